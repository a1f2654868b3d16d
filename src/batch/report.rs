//! What a batch run reports: each row's [`RowReport`], the one-line [`Summary`], the progress
//! bar with failures as they happen, and the report file (`--manifest`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files::write_atomically;

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Written.
    Rendered,
    /// Left alone: its file is newer than the template (`--resume`).
    Skipped,
    /// Not written; the reason.
    Failed(String),
    /// Not written because the output disk filled up; `--resume` finishes it.
    Stopped,
}

/// One row's result, for the progress display and the run's report.
#[derive(Debug, Clone)]
pub struct RowReport {
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
    /// Rows not written because the output disk filled up.
    pub stopped: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Summary {
    /// Tallies `outcomes` that took `elapsed`.
    pub fn of(reports: &[RowReport], elapsed: Duration) -> Summary {
        let mut s = Summary {
            elapsed,
            ..Summary::default()
        };
        for o in reports {
            match o.status {
                Status::Rendered => s.rendered += 1,
                Status::Skipped => s.skipped += 1,
                Status::Failed(_) => s.failed += 1,
                Status::Stopped => s.stopped += 1,
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
            "rendered {}, skipped {}, failed {}",
            self.rendered, self.skipped, self.failed
        )?;
        if self.stopped > 0 {
            write!(f, ", not written for want of space {}", self.stopped)?;
        }
        write!(f, " in {secs:.1} s ({rate:.1} images/s)")
    }
}

/// The terminal display of a run: a progress bar, with each failed row printed above it as
/// `data.csv:LINE: reason` as soon as it fails.
pub struct Progress {
    bar: indicatif::ProgressBar,
    data_name: String,
}

impl Progress {
    /// A bar for `rows` rows of the file called `data_name`.
    pub fn new(rows: usize, data_name: String) -> Progress {
        let bar = indicatif::ProgressBar::new(rows as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}",
            )
            .expect("a valid progress template"),
        );
        Progress { bar, data_name }
    }

    /// Counts one finished row, printing it if it failed.
    pub fn row_done(&self, report: &RowReport) {
        if let Status::Failed(reason) = &report.status {
            let name = &self.data_name;
            self.bar
                .suspend(|| eprintln!("{name}:{}: {reason}", report.line));
        }
        self.bar.inc(1);
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Writes the report of a run (`--manifest`): CSV (`line,file,status,width,height,bytes,error`),
/// or a JSON array when `path` ends in `.json`.
pub fn write_report(path: &Path, reports: &[RowReport]) -> std::io::Result<()> {
    let records: Vec<ReportRecord> = reports.iter().map(ReportRecord::from).collect();
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
struct ReportRecord {
    line: u64,
    file: String,
    status: &'static str,
    width: u64,
    height: u64,
    bytes: usize,
    error: String,
}

impl From<&RowReport> for ReportRecord {
    fn from(o: &RowReport) -> Self {
        let (status, error) = match &o.status {
            Status::Rendered => ("rendered", String::new()),
            Status::Skipped => ("skipped", String::new()),
            Status::Failed(reason) => ("failed", reason.clone()),
            Status::Stopped => ("stopped", "the output disk is full".to_string()),
        };
        ReportRecord {
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
