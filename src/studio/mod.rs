//! `vellum dev`: the template studio served beside the normal endpoint.
//!
//! [`Studio`] holds what the pages show beyond the templates themselves: the load problems of
//! the last reload and a version that every reload bumps, announced to open pages as
//! server-sent events. A reload ([`watch`]) builds a new engine and puts it in service unless
//! it broke a template that was working, in which case the last good engine keeps rendering
//! until the files are fixed.
//!
//! The files: [`routes`] (pages, their JSON and the event stream), [`watch`] (files changed ->
//! reload), [`snippets`] (copy-ready URL, HTML and command lines), `page/` (the HTML, CSS and
//! JavaScript, embedded).

pub mod routes;
mod snippets;
pub mod watch;

use std::sync::RwLock;

use tokio::sync::broadcast;

use crate::error::LoadError;

/// One load problem as the pages show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    /// The template it belongs to, when it names one template's own file.
    pub template: Option<String>,
    /// The message, starting with the file (and line and column where known).
    pub message: String,
}

/// What the last reload found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// Bumped by every reload, good or bad.
    pub version: u64,
    /// Every problem the last reload found, one per file.
    pub problems: Vec<Problem>,
    /// Whether the engine in service is older than the files on disk (a reload broke a
    /// working template, so the last good version keeps rendering).
    pub stale: bool,
}

/// What open pages are told.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Notice {
    /// The templates were reloaded (or failed to), now at this status version.
    Reload(u64),
    /// The server is shutting down: event streams end.
    Closing,
}

/// The studio's state: the last reload's status and the channel that tells open pages.
#[derive(Debug)]
pub struct Studio {
    status: RwLock<Status>,
    notices: broadcast::Sender<Notice>,
}

impl Studio {
    /// A studio over an engine loaded with `problems` (templates left out of it).
    pub fn new(problems: Vec<LoadError>) -> Studio {
        Studio {
            status: RwLock::new(Status {
                version: 1,
                problems: flatten(problems),
                stale: false,
            }),
            notices: broadcast::channel(16).0,
        }
    }

    /// The last reload's status.
    pub fn status(&self) -> Status {
        self.status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What open pages are told, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Ends every open event stream (the server is shutting down).
    pub fn close(&self) {
        let _ = self.notices.send(Notice::Closing);
    }

    /// Records what a reload found: its `problems`, and whether the engine in service is now
    /// `stale` (older than the files). Call [`Studio::announce`] once any new engine is in
    /// service.
    pub fn record(&self, problems: Vec<LoadError>, stale: bool) {
        let problems = flatten(problems);
        for problem in &problems {
            tracing::warn!(problem = %problem.message, "template problem");
        }
        let mut status = self.status.write().unwrap_or_else(|e| e.into_inner());
        status.version += 1;
        status.stale = stale;
        status.problems = problems;
    }

    /// Tells every open page that the templates changed (they fetch the new status).
    pub fn announce(&self) {
        // No page listening is fine.
        let _ = self.notices.send(Notice::Reload(self.status().version));
    }
}

/// One problem per file, each with the template it belongs to.
fn flatten(problems: Vec<LoadError>) -> Vec<Problem> {
    let mut flat = Vec::new();
    for problem in problems {
        match problem {
            LoadError::Several(inner) => flat.extend(flatten(inner)),
            problem => flat.push(Problem {
                template: problem.template_name().map(str::to_string),
                message: problem.to_string(),
            }),
        }
    }
    flat
}
