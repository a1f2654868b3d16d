//! `vellum batch --pdf FILE`: every row as a page of one PDF, in row order, instead of a file
//! per row (certificates for a class, tickets for an event, to print or send as one file).
//!
//! Rows are checked and filled in parallel as in [`run`](super::run::run); the document is
//! then written once, atomically. A row that fails is reported with its line and left out.

use std::path::Path;

use rayon::prelude::*;

use super::files::write_atomically;
use super::report::{RowReport, Status};
use super::rows::RowResult;
use super::run::{BatchOptions, failed, params_only};
use crate::engine::Engine;
use crate::job::BlockingFetcher;

/// Renders the shard's rows as the pages of `options.out_dir/book`; the reports name it as
/// each row's file. An error is a write error (a full disk included).
pub fn run_book(
    engine: &Engine,
    fetcher: &BlockingFetcher,
    rows: Vec<RowResult>,
    options: &BatchOptions,
    book: &Path,
    on_done: &(dyn Fn(&RowReport) + Sync),
) -> Result<Vec<RowReport>, std::io::Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(std::io::Error::other)?;
    let pages: Vec<(RowReport, Option<(String, f32)>)> = pool.install(|| {
        rows.into_par_iter()
            .enumerate()
            .filter(|(i, _)| options.shard.holds(*i))
            .map(|(_, row)| {
                let page = match row {
                    Err(bad) => (failed(bad.line, None, bad.reason), None),
                    Ok(row) => {
                        let line = row.line;
                        let mut pairs = params_only(engine, &options.template, row.pairs);
                        pairs.extend(options.options.iter().cloned());
                        let page = engine
                            .prepare_pairs(&options.template, options.format, pairs)
                            .and_then(|job| fetcher.fetch_images(job))
                            .and_then(|job| {
                                let scale = job.params().scale();
                                Ok((job.output_size(), engine.pdf_page(&job)?, scale))
                            });
                        match page {
                            Ok((size, svg, scale)) => {
                                (rendered(line, book, size), Some((svg, scale)))
                            }
                            Err(e) => (failed(line, Some(book.to_path_buf()), e.to_string()), None),
                        }
                    }
                };
                on_done(&page.0);
                page
            })
            .collect()
    });
    let (mut reports, pages): (Vec<RowReport>, Vec<Option<(String, f32)>>) =
        pages.into_iter().unzip();
    let pages: Vec<(String, f32)> = pages.into_iter().flatten().collect();
    if pages.is_empty() {
        return Ok(reports);
    }
    let pdf = engine.pdf_document(&pages).map_err(std::io::Error::other)?;
    write_atomically(&options.out_dir.join(book), &pdf)?;
    // The document's size, shared by its pages.
    for report in reports.iter_mut().filter(|r| r.status == Status::Rendered) {
        report.bytes = pdf.len();
    }
    Ok(reports)
}

fn rendered(line: u64, book: &Path, size: (u64, u64)) -> RowReport {
    RowReport {
        line,
        file: Some(book.to_path_buf()),
        status: Status::Rendered,
        size,
        bytes: 0,
    }
}
