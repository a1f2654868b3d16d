//! Batch rendering: one image per row of a CSV or JSON Lines file, each row checked by the
//! same manifest rules as a URL, rendered on every core, written under one directory.
//!
//! [`rows`] reads the data file, [`names`] turns a `--name` pattern into each row's file name,
//! [`run`](mod@run) renders the rows in parallel and [`report`] counts, shows and records what
//! happened; [`book`] makes one PDF of every row instead. A bad row never stops the run: it becomes a failed [`RowReport`] with its line.

pub mod book;
mod files;
pub mod names;
pub mod report;
pub mod rows;
pub mod run;

pub use book::run_book;
pub use names::{NameError, NamePattern};
pub use report::{Progress, RowReport, Status, Summary, write_report};
pub use rows::{BadRow, DataError, Row, RowResult, read_rows};
pub use run::{BatchOptions, Shard, run, unused_columns};
