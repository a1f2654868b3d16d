//! Batch rendering: one image per row of a CSV or JSON Lines file, each row checked by the
//! same manifest rules as a URL, rendered on every core, written under one directory.
//!
//! A bad row never stops the run: it becomes a failed [`Outcome`] with its file and line.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;

use crate::encode::Format;
use crate::engine::{Engine, Job};
use crate::error::RequestError;
use crate::fetch::Fetcher;
use crate::params::RESERVED_KEYS;

/// Why a batch cannot start (problems with one row are [`Outcome`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
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
    /// The `--name` pattern is unusable.
    #[error("file name pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
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
pub fn read_rows(path: &Path) -> Result<Vec<RowResult>, BatchError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| BatchError::Read {
        path: shown.clone(),
        source,
    })?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => csv_rows(&text).map_err(|reason| BatchError::Header {
            path: shown,
            reason,
        }),
        Some("jsonl" | "ndjson") => Ok(json_rows(&text)),
        _ => Err(BatchError::DataFormat(shown)),
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

/// An output file name pattern such as `{sku}.png` or `cards/{row}.webp`: literal text and
/// `{column}` placeholders, `{row}` being the row's number. Values are made safe for a file
/// name; the result always stays inside the output directory.
#[derive(Debug, Clone)]
pub struct NamePattern {
    pattern: String,
}

impl NamePattern {
    /// Checks a pattern: relative, no `..`, every brace closed, at least one placeholder.
    pub fn parse(pattern: &str) -> Result<NamePattern, BatchError> {
        let bad = |reason: &str| BatchError::Pattern {
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

/// What a batch renders and where.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Template name.
    pub template: String,
    /// Output format for every row.
    pub format: Format,
    /// Output options added to every row (`scale`, `quality`), as in a URL.
    pub options: Vec<(String, String)>,
    /// Directory the files go under.
    pub out_dir: PathBuf,
    /// File names.
    pub names: NamePattern,
    /// Skip rows whose file exists and is newer than the template.
    pub resume: bool,
    /// Threads to render on.
    pub jobs: usize,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Written.
    Rendered,
    /// Left alone: its file is newer than the template (`--resume`).
    Skipped,
    /// Not written; the reason.
    Failed(String),
}

/// One row's result, for the progress display and the manifest.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Line in the data file.
    pub line: u64,
    /// The output file, relative to the output directory, when the row got that far.
    pub file: Option<PathBuf>,
    /// What happened.
    pub status: Status,
    /// Output width and height in pixels (0 when failed).
    pub size: (u64, u64),
    /// Bytes written (0 when skipped or failed).
    pub bytes: usize,
}

/// Counts and time for the one-line summary.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Files written.
    pub rendered: usize,
    /// Files left alone by `--resume`.
    pub skipped: usize,
    /// Rows that failed.
    pub failed: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Summary {
    /// Tallies `outcomes` that took `elapsed`.
    pub fn of(outcomes: &[Outcome], elapsed: Duration) -> Summary {
        let mut s = Summary {
            elapsed,
            ..Summary::default()
        };
        for o in outcomes {
            match o.status {
                Status::Rendered => s.rendered += 1,
                Status::Skipped => s.skipped += 1,
                Status::Failed(_) => s.failed += 1,
            }
        }
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.rendered as f64 / secs
        } else {
            0.0
        };
        write!(
            f,
            "rendered {}, skipped {}, failed {} in {secs:.1} s ({rate:.1} images/s)",
            self.rendered, self.skipped, self.failed
        )
    }
}

/// Renders every row; `on_done` is called as each row finishes (from worker threads).
/// Rows whose file name repeats an earlier row's fail rather than overwrite it.
pub fn run(
    engine: &Engine,
    fetcher: Option<&Fetcher>,
    rows: Vec<RowResult>,
    options: &BatchOptions,
    on_done: &(dyn Fn(&Outcome) + Sync),
) -> Result<Vec<Outcome>, std::io::Error> {
    std::fs::create_dir_all(&options.out_dir)?;
    let template_time = template_mtime(engine, &options.template);
    let width = rows.len().to_string().len();
    let mut claimed: HashMap<PathBuf, u64> = HashMap::new();
    let planned: Vec<Result<(Row, PathBuf), Outcome>> = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let row = row.map_err(|bad| failed(bad.line, None, bad.reason))?;
            let file = options
                .names
                .name(&row, i + 1, width)
                .map_err(|reason| failed(row.line, None, reason))?;
            if let Some(first) = claimed.insert(file.clone(), row.line) {
                claimed.insert(file.clone(), first);
                let reason = format!("file name {:?} is already line {first}'s", file);
                return Err(failed(row.line, Some(file), reason));
            }
            Ok((row, file))
        })
        .collect();
    // Remote images are fetched on one small runtime shared by the render threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let fetch = |job: Job| {
        if job.image_urls().is_empty() {
            return Ok(job);
        }
        runtime.block_on(crate::fetch::fetch_images(fetcher, job))
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(std::io::Error::other)?;
    let outcomes = pool.install(|| {
        planned
            .into_par_iter()
            .map(|planned| {
                let outcome = match planned {
                    Ok((row, file)) => {
                        render_row(engine, options, row, file, template_time, &fetch)
                    }
                    Err(outcome) => outcome,
                };
                on_done(&outcome);
                outcome
            })
            .collect()
    });
    Ok(outcomes)
}

type FetchFn<'a> = dyn Fn(Job) -> Result<Job, RequestError> + Sync + 'a;

fn render_row(
    engine: &Engine,
    options: &BatchOptions,
    row: Row,
    file: PathBuf,
    template_time: Option<SystemTime>,
    fetch: &FetchFn<'_>,
) -> Outcome {
    let line = row.line;
    let path = options.out_dir.join(&file);
    let mut pairs = params_only(engine, &options.template, row.pairs);
    pairs.extend(options.options.iter().cloned());
    let job = match engine.prepare_pairs(&options.template, options.format, pairs) {
        Ok(job) => job,
        Err(e) => return failed(line, Some(file), e.to_string()),
    };
    let size = job.output_size();
    if options.resume && is_newer(&path, template_time) {
        return Outcome {
            line,
            file: Some(file),
            status: Status::Skipped,
            size,
            bytes: 0,
        };
    }
    let image = match fetch(job).and_then(|job| engine.render(&job)) {
        Ok(image) => image,
        Err(e) => return failed(line, Some(file), e.to_string()),
    };
    if let Err(e) = write_atomically(&path, &image.bytes) {
        return failed(line, Some(file), format!("cannot write: {e}"));
    }
    Outcome {
        line,
        file: Some(file),
        status: Status::Rendered,
        size,
        bytes: image.bytes.len(),
    }
}

/// Keeps the pairs that are the template's params; other columns (a SKU used only in file
/// names, a catalogue's extra fields) are left out.
fn params_only(
    engine: &Engine,
    template: &str,
    pairs: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let set = engine.templates();
    let Some(template) = set.get(template) else {
        return pairs;
    };
    pairs
        .into_iter()
        .filter(|(k, _)| {
            template.manifest.params.contains_key(k) || RESERVED_KEYS.contains(&k.as_str())
        })
        .collect()
}

/// Columns in `rows` that are not params of `template` (nor reserved keys such as `scale`):
/// they only serve file names, and a typo among them would go unnoticed without a warning.
pub fn unused_columns(engine: &Engine, template: &str, rows: &[RowResult]) -> Vec<String> {
    let set = engine.templates();
    let Some(template) = set.get(template) else {
        return Vec::new();
    };
    let mut unused: Vec<String> = rows
        .iter()
        .flatten()
        .flat_map(|row| row.pairs.iter().map(|(k, _)| k))
        .filter(|k| {
            !template.manifest.params.contains_key(*k) && !RESERVED_KEYS.contains(&k.as_str())
        })
        .cloned()
        .collect();
    unused.sort();
    unused.dedup();
    unused
}

fn failed(line: u64, file: Option<PathBuf>, reason: String) -> Outcome {
    Outcome {
        line,
        file,
        status: Status::Failed(reason),
        size: (0, 0),
        bytes: 0,
    }
}

/// Writes through a temporary file and a rename, so a file that exists is whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".vellum-tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The newest modification time among the template's files (SVG, manifest, assets).
fn template_mtime(engine: &Engine, name: &str) -> Option<SystemTime> {
    let dir = engine.templates_dir();
    let mut files = vec![
        dir.join(format!("{name}.svg")),
        dir.join(format!("{name}.toml")),
    ];
    if let Ok(assets) = std::fs::read_dir(dir.join("assets")) {
        files.extend(assets.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .max()
}

fn is_newer(path: &Path, than: Option<SystemTime>) -> bool {
    let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else {
        return false;
    };
    than.is_none_or(|t| modified > t)
}

/// Writes the manifest of a run: CSV (`line,file,status,width,height,bytes,error`), or a
/// JSON array when `path` ends in `.json`.
pub fn write_manifest(path: &Path, outcomes: &[Outcome]) -> std::io::Result<()> {
    let records: Vec<ManifestRecord> = outcomes.iter().map(ManifestRecord::from).collect();
    if path.extension().is_some_and(|e| e == "json") {
        let json = serde_json::to_vec_pretty(&records).map_err(std::io::Error::other)?;
        return write_atomically(path, &json);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in &records {
        writer.serialize(record).map_err(std::io::Error::other)?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    write_atomically(path, &bytes)
}

#[derive(serde::Serialize)]
struct ManifestRecord {
    line: u64,
    file: String,
    status: &'static str,
    width: u64,
    height: u64,
    bytes: usize,
    error: String,
}

impl From<&Outcome> for ManifestRecord {
    fn from(o: &Outcome) -> Self {
        let (status, error) = match &o.status {
            Status::Rendered => ("rendered", String::new()),
            Status::Skipped => ("skipped", String::new()),
            Status::Failed(reason) => ("failed", reason.clone()),
        };
        ManifestRecord {
            line: o.line,
            file: o
                .file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            status,
            width: o.size.0,
            height: o.size.1,
            bytes: o.bytes,
            error,
        }
    }
}
