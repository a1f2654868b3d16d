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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        Row {
            line: 2,
            pairs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn name(pattern: &str, row: &Row) -> Result<String, String> {
        let pattern = NamePattern::parse(pattern).map_err(|e| e.to_string())?;
        pattern
            .name(row, 7, 3)
            .map(|path| path.display().to_string())
    }

    #[test]
    fn placeholders_take_the_row_s_values_and_its_padded_number() {
        let r = row(&[("sku", "A-100"), ("lang", "de")]);
        assert_eq!(name("{sku}.png", &r).unwrap(), "A-100.png");
        assert_eq!(
            name("{lang}/{sku}-{row}.webp", &r).unwrap(),
            "de/A-100-007.webp"
        );
        assert_eq!(name("card {row}", &r).unwrap(), "card 007");
    }

    #[test]
    fn values_cannot_leave_the_output_directory_or_hide() {
        for (value, expected) in [
            ("../../etc/passwd", "_.._etc_passwd.png"),
            ("/abs", "_abs.png"),
            ("..", "_.png"),
            (".hidden", "hidden.png"),
            ("a\\b:c*d?e\"f<g>h|i", "a_b_c_d_e_f_g_h_i.png"),
            ("tab\there", "tab_here.png"),
            ("  ", "_.png"),
        ] {
            let r = row(&[("sku", value)]);
            assert_eq!(name("{sku}.png", &r).unwrap(), expected, "{value:?}");
        }
        let long = "x".repeat(300);
        let made = name("{sku}", &row(&[("sku", &long)])).unwrap();
        assert_eq!(
            made.chars().count(),
            100,
            "values are cut to 100 characters"
        );
    }

    #[test]
    fn a_missing_column_fails_that_row_only() {
        assert_eq!(
            name("{sku}.png", &row(&[("title", "Hi")])),
            Err("file name needs \"sku\", which this row lacks".to_string())
        );
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        for (pattern, reason) in [
            ("card.png", "needs a {column} or {row} placeholder"),
            ("{sku", "{ without }"),
            ("sku}.png", "} without {"),
            ("{}.png", "empty or nested {}"),
            ("{a{b}}.png", "empty or nested {}"),
            ("../{sku}.png", "must be a relative path without . or .."),
            ("/tmp/{sku}.png", "must be a relative path without . or .."),
            ("a\\{sku}.png", "use / to separate directories"),
        ] {
            let err = NamePattern::parse(pattern).unwrap_err().to_string();
            assert_eq!(err, format!("file name pattern {pattern:?}: {reason}"));
        }
    }

    #[test]
    fn the_format_comes_from_the_flag_or_the_extension_and_must_agree() {
        let pick = |pattern: &str, format: Option<&str>| {
            NamePattern::with_format(pattern, format)
                .map(|(names, format)| (names.pattern, format))
                .map_err(|e| e.to_string())
        };
        assert_eq!(pick("{sku}", None), Ok(("{sku}.png".into(), Format::Png)));
        assert_eq!(
            pick("{sku}.jpeg", None),
            Ok(("{sku}.jpeg".into(), Format::Jpeg))
        );
        assert_eq!(
            pick("{sku}", Some("webp")),
            Ok(("{sku}.webp".into(), Format::Webp))
        );
        assert_eq!(
            pick("{sku}.png", Some("jpg")),
            Err("--name \"{sku}.png\" ends in .png but the format is jpg".into())
        );
        assert_eq!(
            pick("{sku}", Some("gif")),
            Err("unknown format \"gif\" (expected png, jpg, webp, svg or pdf)".into())
        );
        assert_eq!(
            pick("{sku}.gif", None),
            Err("unknown format \"gif\" (expected png, jpg, webp, svg or pdf)".into())
        );
    }
}
