//! Reading a batch's data file: a CSV (header row = param names) or JSON Lines (one object a
//! line) into [`Row`]s of `key=value` pairs, with a [`BadRow`] for each line that cannot be
//! read, so one bad line never stops a run.

use std::path::Path;

/// Why a data file cannot be read at all (a bad row is a [`BadRow`] instead).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The data file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CSV header row is missing or unreadable.
    #[error("{path}: no header row: {reason}")]
    Header {
        /// The data file.
        path: String,
        /// What the CSV reader said.
        reason: String,
    },
    /// The data file's extension names no known format.
    #[error("{0}: expected a .csv, .jsonl or .ndjson file")]
    DataFormat(String),
}

/// One data row: where it came from and its `key=value` pairs (empty cells left out, so
/// the manifest's defaults apply).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Line in the data file where the row starts (1-based; a CSV header is line 1).
    pub line: u64,
    /// The row's parameters.
    pub pairs: Vec<(String, String)>,
}

/// A row that could not be read: its line and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    /// Line in the data file.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// A row, or why it could not be read.
pub type RowResult = Result<Row, BadRow>;

/// Reads a `.csv` (header row = param names) or `.jsonl`/`.ndjson` file (one object per
/// line). A row that cannot be read is an `Err((line, reason))` among the others.
pub fn read_rows(path: &Path) -> Result<Vec<RowResult>, DataError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
        path: shown.clone(),
        source,
    })?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => csv_rows(&text).map_err(|reason| DataError::Header {
            path: shown,
            reason,
        }),
        Some("jsonl" | "ndjson") => Ok(json_rows(&text)),
        _ => Err(DataError::DataFormat(shown)),
    }
}

fn csv_rows(text: &str) -> Result<Vec<RowResult>, String> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    if headers.is_empty() {
        return Err("the file is empty".into());
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let pairs = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                Ok(Row { line, pairs })
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("expected {expected_len} fields, got {len}"),
                    _ => e.to_string(),
                };
                Err(BadRow { line, reason })
            }
        });
    }
    Ok(rows)
}

fn json_rows(text: &str) -> Vec<RowResult> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let line_no = i as u64 + 1;
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
                .map_err(|e| {
                    // Each line is its own document: its "line 1" is noise.
                    let message = e.to_string();
                    let message = message.rsplit_once(" at line ").map_or(&*message, |m| m.0);
                    BadRow {
                        line: line_no,
                        reason: format!("invalid JSON: {message} (column {})", e.column()),
                    }
                })?;
            let pairs = crate::params::json_pairs(object).map_err(|reason| BadRow {
                line: line_no,
                reason,
            })?;
            Ok(Row {
                line: line_no,
                pairs,
            })
        })
        .collect()
}
