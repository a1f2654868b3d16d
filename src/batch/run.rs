//! The parallel run: plan every row's file name (refusing repeats), then check, fetch,
//! render and write each row on a pool of render threads, reporting each as it finishes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use rayon::prelude::*;

use super::files::write_atomically;
use super::names::NamePattern;
use super::report::{RowReport, Status};
use super::rows::{Row, RowResult};
use crate::engine::Engine;
use crate::format::Format;
use crate::job::BlockingFetcher;
use crate::manifest::RESERVED_KEYS;

/// What a batch renders and where.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Template name.
    pub template: String,
    /// Output format for every row.
    pub format: Format,
    /// Size and output options added to every row (`size`, `scale`, `quality`), as in a URL.
    pub options: Vec<(String, String)>,
    /// Directory the files go under.
    pub out_dir: PathBuf,
    /// File names.
    pub names: NamePattern,
    /// Skip rows whose file exists and is newer than the template.
    pub resume: bool,
    /// Threads to render on.
    pub jobs: usize,
    /// Only this share of the rows, for runs split across machines. Default: every row.
    pub shard: Shard,
}

/// A deterministic share of a data file's rows: row `i` (0-based, in file order) belongs to
/// shard `i % count`, so `count` runs, one per `index`, render every row exactly once, with
/// the same file names as one run would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, 0-based.
    pub index: usize,
    /// How many shares.
    pub count: usize,
}

impl Shard {
    /// Every row.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `K/N` (1-based, as `--shard` takes it).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let parsed = text.split_once('/').and_then(|(k, n)| {
            let (k, n) = (
                k.trim().parse::<usize>().ok()?,
                n.trim().parse::<usize>().ok()?,
            );
            (1..=n).contains(&k).then_some(Shard {
                index: k - 1,
                count: n,
            })
        });
        parsed.ok_or_else(|| format!("expected K/N with 1 <= K <= N, like 2/8, got {text:?}"))
    }

    /// Whether the row at 0-based position `i` is in this share.
    pub fn holds(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// Renders every row; `on_done` is called as each row finishes (from worker threads).
/// Rows whose file name repeats an earlier row's fail rather than overwrite it.
pub fn run(
    engine: &Engine,
    fetcher: &BlockingFetcher,
    rows: Vec<RowResult>,
    options: &BatchOptions,
    on_done: &(dyn Fn(&RowReport) + Sync),
) -> Result<Vec<RowReport>, std::io::Error> {
    std::fs::create_dir_all(&options.out_dir)?;
    let template_time = template_mtime(engine, &options.template);
    // Row numbers (`{row}`) and their width count every row, whichever share runs.
    let width = rows.len().to_string().len();
    let mut claimed: HashMap<PathBuf, u64> = HashMap::new();
    let planned: Vec<Result<(Row, PathBuf), RowReport>> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, _)| options.shard.holds(*i))
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
    // Once the disk is full, no row is attempted: each would fail the same way.
    let disk_full = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(std::io::Error::other)?;
    let outcomes = pool.install(|| {
        planned
            .into_par_iter()
            .map(|planned| {
                let outcome = match planned {
                    Ok((row, file)) if disk_full.load(Ordering::Relaxed) => stopped(row.line, file),
                    Ok((row, file)) => {
                        let line = row.line;
                        let outcome =
                            render_row(engine, options, row, file.clone(), template_time, fetcher);
                        match outcome {
                            Err(full) => {
                                tracing::debug!(error = %full, "the output disk is full");
                                disk_full.store(true, Ordering::Relaxed);
                                stopped(line, file)
                            }
                            Ok(report) => report,
                        }
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

/// A row not written because the output disk filled up.
fn stopped(line: u64, file: PathBuf) -> RowReport {
    RowReport {
        line,
        file: Some(file),
        status: Status::Stopped,
        size: (0, 0),
        bytes: 0,
    }
}

/// Whether a write failed for want of space (or quota) rather than for this row's sake.
fn is_out_of_space(error: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    error.kind() == std::io::ErrorKind::StorageFull
        || matches!(error.raw_os_error(), Some(ENOSPC | EDQUOT))
}

/// Checks, renders and writes one row: its report, or the write error when the disk is full
/// (which stops the run rather than failing every row after it).
fn render_row(
    engine: &Engine,
    options: &BatchOptions,
    row: Row,
    file: PathBuf,
    template_time: Option<SystemTime>,
    fetcher: &BlockingFetcher,
) -> Result<RowReport, std::io::Error> {
    let line = row.line;
    let path = options.out_dir.join(&file);
    let mut pairs = params_only(engine, &options.template, row.pairs);
    pairs.extend(options.options.iter().cloned());
    let job = match engine.prepare_pairs(&options.template, options.format, pairs) {
        Ok(job) => job,
        Err(e) => return Ok(failed(line, Some(file), e.to_string())),
    };
    let size = job.output_size();
    if options.resume && is_newer(&path, template_time) {
        return Ok(RowReport {
            line,
            file: Some(file),
            status: Status::Skipped,
            size,
            bytes: 0,
        });
    }
    let image = match fetcher
        .fetch_images(job)
        .and_then(|job| engine.render(&job))
    {
        Ok(image) => image,
        Err(e) => return Ok(failed(line, Some(file), e.to_string())),
    };
    match write_atomically(&path, &image.bytes) {
        Err(e) if is_out_of_space(&e) => return Err(e),
        Err(e) => return Ok(failed(line, Some(file), format!("cannot write: {e}"))),
        Ok(()) => {}
    }
    Ok(RowReport {
        line,
        file: Some(file),
        status: Status::Rendered,
        size,
        bytes: image.bytes.len(),
    })
}

/// Keeps the pairs that are the template's params; other columns (a SKU used only in file
/// names, a catalogue's extra fields) are left out.
pub(super) fn params_only(
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

pub(super) fn failed(line: u64, file: Option<PathBuf>, reason: String) -> RowReport {
    RowReport {
        line,
        file,
        status: Status::Failed(reason),
        size: (0, 0),
        bytes: 0,
    }
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
