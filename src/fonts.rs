//! The one font database every render shares, loaded from the project's `fonts/` directory.
//!
//! Fonts are read into memory (by-path faces are re-opened on every glyph look-up, which made
//! parsing several times slower). System fonts are only added when asked for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::LoadError;

/// The family used for text that names none, and for the generic `sans-serif`.
pub const DEFAULT_FAMILY: &str = "Inter";

/// Loads every font file under each of `dirs` in turn (within a directory sorted by path, so
/// the fallback order is stable) and, if `system` is set, the machine's fonts after them. A
/// directory without a font is an error naming it.
pub fn load(dirs: &[PathBuf], system: bool) -> Result<Arc<fontdb::Database>, LoadError> {
    let mut db = fontdb::Database::new();
    for dir in dirs {
        let mut files = Vec::new();
        collect_font_files(dir, &mut files)?;
        if files.is_empty() {
            return Err(LoadError::NoFonts { path: dir.clone() });
        }
        files.sort();
        for path in &files {
            let data = std::fs::read(path).map_err(LoadError::io(path))?;
            db.load_font_data(font_data(path, data)?);
        }
    }
    if dirs.is_empty() && !system {
        return Err(LoadError::NoFonts {
            path: PathBuf::from("(no font directory given)"),
        });
    }
    if system {
        db.load_system_fonts();
    }
    // Generic families, and usvg's last resort for a family that does not exist (serif),
    // all mean the default family, or the first family loaded when fonts that replace the
    // bundled ones have no Inter: text is never dropped for want of a font.
    let has_default = db
        .faces()
        .any(|face| face.families.iter().any(|(name, _)| name == DEFAULT_FAMILY));
    let first = db.faces().find_map(|face| face.families.first());
    let default = match first {
        Some((name, _)) if !has_default => name.clone(),
        _ => DEFAULT_FAMILY.to_string(),
    };
    db.set_sans_serif_family(&default);
    db.set_serif_family(&default);
    db.set_monospace_family(&default);
    db.set_cursive_family(&default);
    db.set_fantasy_family(default);
    Ok(Arc::new(db))
}

/// A font file's OpenType data, decompressed from WOFF or WOFF2 when it is one, checked to
/// hold at least one face that parses: a file that does not is an error naming it.
fn font_data(path: &Path, data: Vec<u8>) -> Result<Vec<u8>, LoadError> {
    let fail = |message: String| LoadError::Font {
        path: path.to_path_buf(),
        message,
    };
    let data = match data.get(..4) {
        Some(b"wOFF") => wuff::decompress_woff1(&data).map_err(|e| fail(format!("WOFF: {e:?}")))?,
        Some(b"wOF2") => {
            wuff::decompress_woff2(&data).map_err(|e| fail(format!("WOFF2: {e:?}")))?
        }
        _ => data,
    };
    let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
    for index in 0..faces {
        ttf_parser::Face::parse(&data, index)
            .map_err(|e| fail(format!("face {index} does not load: {e}")))?;
    }
    Ok(data)
}

fn collect_font_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    for entry in std::fs::read_dir(dir).map_err(LoadError::io(dir))? {
        let path = entry.map_err(LoadError::io(dir))?.path();
        if path.is_dir() {
            collect_font_files(&path, out)?;
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "ttf" | "otf" | "ttc" | "otc" | "woff" | "woff2"
            )
        }) {
            out.push(path);
        }
    }
    Ok(())
}

/// Chooses the face for a character the requested face lacks: among the faces that have it,
/// the same style first, then the nearest weight, then load order. (usvg's default takes the
/// first face in load order, which drew regular CJK text with a Bold face.)
pub struct Fallback {
    db: Arc<fontdb::Database>,
    chosen: Mutex<HashMap<(fontdb::ID, char), Option<fontdb::ID>>>,
    coverage: Mutex<HashMap<(fontdb::ID, char), bool>>,
}

/// Entries each look-up cache holds before it starts over (any text can name any character).
const CACHE_ENTRIES: usize = 65_536;

impl Fallback {
    /// A fallback chooser over `db`.
    pub fn new(db: Arc<fontdb::Database>) -> Fallback {
        Fallback {
            db,
            chosen: Mutex::new(HashMap::new()),
            coverage: Mutex::new(HashMap::new()),
        }
    }

    /// The face to draw `c` with, given the faces already tried (the first is the one the
    /// text asked for). Cached per base face and character.
    pub fn select(&self, c: char, tried: &[fontdb::ID]) -> Option<fontdb::ID> {
        let base_id = *tried.first()?;
        let key = (base_id, c);
        if let Some(found) = lock(&self.chosen).get(&key)
            && found.is_none_or(|id| !tried.contains(&id))
        {
            return *found;
        }
        let base = self.db.face(base_id)?;
        let choice = self
            .db
            .faces()
            .enumerate()
            .filter(|(_, face)| !tried.contains(&face.id) && self.has_char(face.id, c))
            .min_by_key(|(order, face)| {
                (
                    face.style != base.style,
                    face.weight.0.abs_diff(base.weight.0),
                    *order,
                )
            })
            .map(|(_, face)| face.id);
        remember(&self.chosen, key, choice);
        choice
    }

    /// Whether face `id` maps `c` to a glyph (cached: parsing a face per look-up made
    /// measuring a title cost a tenth of rasterising the card).
    pub fn has_char(&self, id: fontdb::ID, c: char) -> bool {
        if let Some(&known) = lock(&self.coverage).get(&(id, c)) {
            return known;
        }
        let found = self
            .db
            .with_face_data(id, |data, index| {
                ttf_parser::Face::parse(data, index)
                    .ok()
                    .and_then(|face| face.glyph_index(c))
                    .is_some()
            })
            .unwrap_or(false);
        remember(&self.coverage, (id, c), found);
        found
    }
}

fn lock<V>(
    map: &Mutex<HashMap<(fontdb::ID, char), V>>,
) -> std::sync::MutexGuard<'_, HashMap<(fontdb::ID, char), V>> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stores a look-up, starting the cache over when it is full.
fn remember<V>(map: &Mutex<HashMap<(fontdb::ID, char), V>>, key: (fontdb::ID, char), value: V) {
    let mut map = lock(map);
    if map.len() >= CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_keeps_the_weight_of_the_text() {
        let db = load(
            &[Path::new(env!("CARGO_MANIFEST_DIR")).join("fonts")],
            false,
        )
        .unwrap();
        let fallback = Fallback::new(db.clone());
        let inter = |weight| {
            db.query(&fontdb::Query {
                families: &[fontdb::Family::Name(DEFAULT_FAMILY)],
                weight: fontdb::Weight(weight),
                ..fontdb::Query::default()
            })
            .unwrap()
        };
        for (weight, expected) in [(400, 400), (800, 700)] {
            let chosen = fallback.select('日', &[inter(weight)]).unwrap();
            assert_eq!(
                db.face(chosen).unwrap().weight.0,
                expected,
                "Inter {weight}"
            );
        }
        assert!(!fallback.has_char(inter(400), '日'));
        assert!(
            fallback.select('\u{0BA4}', &[inter(400)]).is_none(),
            "no bundled Tamil"
        );
    }
}
