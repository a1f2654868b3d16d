//! Hot reload: watches the template and font directories and reloads the engine after a
//! burst of changes has settled (an editor's save is often several events).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::engine::Engine;
use crate::state::State;

/// How long the files must stay quiet before a reload starts.
const SETTLE: Duration = Duration::from_millis(150);

/// Watches `dirs` (recursively) and reloads `state`'s engine through its studio on every
/// change, until the returned watcher is dropped. Must be called inside a Tokio runtime.
pub fn watch(state: Arc<State>, dirs: &[PathBuf]) -> notify::Result<notify::RecommendedWatcher> {
    let (changed, mut changes) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(event) => !event.kind.is_access(),
            Err(_) => true,
        };
        if relevant {
            // The receiver is gone only when the server is shutting down.
            let _ = changed.send(());
        }
    })?;
    for dir in dirs {
        watcher.watch(dir, RecursiveMode::Recursive)?;
    }
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            // Let the burst settle: wait until no change has come for SETTLE.
            while let Ok(Some(())) = tokio::time::timeout(SETTLE, changes.recv()).await {}
            let state = state.clone();
            let reloaded = tokio::task::spawn_blocking(move || reload(&state)).await;
            if let Err(e) = reloaded {
                tracing::error!(error = %e, "reload failed");
            }
        }
    });
    Ok(watcher)
}

/// Loads the engine again from the directories of the one in service, and puts it in service
/// unless the load failed or broke a template that works now; records and announces either.
fn reload(state: &State) {
    let Some(studio) = state.studio() else { return };
    let started = std::time::Instant::now();
    let current = state.engine();
    match Engine::new_lenient(current.config().clone()) {
        Err(problem) => studio.record(vec![problem], true),
        Ok((engine, problems)) => {
            let serving = current.templates();
            let breaks_working = problems.iter().any(|p| match p.template_name() {
                Some(name) => serving.get(name).is_some(),
                None => true,
            });
            studio.record(problems, breaks_working);
            if !breaks_working {
                state.replace_engine(engine);
                tracing::info!(ms = started.elapsed().as_millis() as u64, "reloaded");
            }
        }
    }
    studio.announce();
}
