//! The one font database every render shares, loaded from the project's `fonts/` directory.
//!
//! Fonts are read into memory (by-path faces are re-opened on every glyph look-up, which made
//! parsing several times slower). System fonts are only added when asked for.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::LoadError;

/// The family used for text that names none, and for the generic `sans-serif`.
pub const DEFAULT_FAMILY: &str = "Inter";

/// Loads every `.ttf`, `.otf` and `.ttc` under `dir` (sorted by path, so the fallback order is
/// stable) and, if `system` is set, the machine's fonts after them.
pub fn load(dir: &Path, system: bool) -> Result<Arc<fontdb::Database>, LoadError> {
    let mut files = Vec::new();
    collect_font_files(dir, &mut files)?;
    files.sort();
    let mut db = fontdb::Database::new();
    for path in &files {
        let data = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        db.load_font_data(data);
    }
    if db.is_empty() {
        return Err(LoadError::NoFonts {
            path: dir.to_path_buf(),
        });
    }
    if system {
        db.load_system_fonts();
    }
    db.set_sans_serif_family(DEFAULT_FAMILY);
    Ok(Arc::new(db))
}

fn collect_font_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_font_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "ttf" | "otf" | "ttc"))
        {
            out.push(path);
        }
    }
    Ok(())
}
