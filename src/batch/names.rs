//! Output file names: a `--name` pattern such as `{sku}.png` or `cards/{row}.webp`, the
//! format its extension implies, and the file-safe name it gives each row.

use std::path::{Component, Path, PathBuf};

use super::rows::Row;
use crate::format::{self, Format};

/// Why a `--name` pattern or the format cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// The pattern is unusable.
    #[error("file name pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The output format is unknown, or disagrees with the pattern's extension.
    #[error("{0}")]
    Format(String),
}

/// An output file name pattern such as `{sku}.png` or `cards/{row}.webp`: literal text and
/// `{column}` placeholders, `{row}` being the row's number. Values are made safe for a file
/// name; the result always stays inside the output directory.
#[derive(Debug, Clone)]
pub struct NamePattern {
    pattern: String,
}

impl NamePattern {
    /// Checks a pattern: relative, no `..`, every brace closed, at least one placeholder.
    pub fn parse(pattern: &str) -> Result<NamePattern, NameError> {
        let bad = |reason: &str| NameError::Pattern {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        let literal = placeholders(pattern).map_err(|e| bad(&e))?;
        if literal.1.is_empty() {
            return Err(bad("needs a {column} or {row} placeholder"));
        }
        if pattern.contains('\\') {
            return Err(bad("use / to separate directories"));
        }
        let path = Path::new(&literal.0);
        if !path.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(bad("must be a relative path without . or .."));
        }
        Ok(NamePattern {
            pattern: pattern.to_string(),
        })
    }

    /// The extension the pattern ends with, if any (`png` in `{sku}.png`).
    pub fn extension(&self) -> Option<&str> {
        let last = self.pattern.rsplit('/').next()?;
        let (_, ext) = last.rsplit_once('.')?;
        (!ext.contains('{') && !ext.contains('}') && !ext.is_empty()).then_some(ext)
    }

    /// The relative file name for `row` (number `index`, zero-padded to `width` digits).
    pub fn name(&self, row: &Row, index: usize, width: usize) -> Result<PathBuf, String> {
        let mut out = String::new();
        let mut rest = self.pattern.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').expect("checked by parse") + open;
            let key = &rest[open + 1..close];
            let value = if key == "row" {
                format!("{index:0width$}")
            } else {
                let value = row
                    .pairs
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(|| format!("file name needs {key:?}, which this row lacks"))?;
                file_safe(value)
            };
            out.push_str(&value);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        let path = PathBuf::from(out);
        // Values cannot hold separators or dots-only names; this holds whatever they were.
        if !path.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(format!(
                "file name {:?} would leave the output directory",
                path
            ));
        }
        Ok(path)
    }
}

/// The pattern's literal text (placeholders replaced by `x`) and its placeholder names.
fn placeholders(pattern: &str) -> Result<(String, Vec<String>), String> {
    let mut literal = String::new();
    let mut names = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err("} without {".into());
        }
        literal.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or("{ without }")? + open;
        let name = &rest[open + 1..close];
        if name.is_empty() || name.contains('{') {
            return Err("empty or nested {}".into());
        }
        names.push(name.to_string());
        literal.push('x');
        rest = &rest[close + 1..];
    }
    literal.push_str(rest);
    Ok((literal, names))
}

/// A value made safe as (part of) one file name: no separators, no control or reserved
/// characters, no leading dots, at most 100 characters.
pub fn file_safe(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .take(100)
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim_end_matches('.');
    if trimmed.is_empty() {
        "_".to_string()
    } else {
        trimmed.to_string()
    }
}

impl NamePattern {
    /// The pattern for `--name` and the output format: `format` when given (it must agree with
    /// the pattern's extension, if any), else the extension's, else PNG. A pattern without an
    /// extension gets the format's.
    pub fn with_format(
        pattern: &str,
        format: Option<&str>,
    ) -> Result<(NamePattern, Format), NameError> {
        let names = NamePattern::parse(pattern)?;
        let format = match (format, names.extension()) {
            (Some(f), _) | (None, Some(f)) => Format::from_extension(f).ok_or_else(|| {
                NameError::Format(format!(
                    "unknown format {f:?} (expected {})",
                    format::EXPECTED
                ))
            })?,
            (None, None) => Format::Png,
        };
        match names.extension() {
            Some(ext) if Format::from_extension(ext) != Some(format) => {
                Err(NameError::Format(format!(
                    "--name {pattern:?} ends in .{ext} but the format is {}",
                    format.extension()
                )))
            }
            Some(_) => Ok((names, format)),
            None => {
                let names = NamePattern::parse(&format!("{pattern}.{}", format.extension()))?;
                Ok((names, format))
            }
        }
    }
}
