//! A template set's `assets/`: logos, backgrounds and placeholder images that templates embed
//! by name, read and checked once at load and held as `data:` URLs.
//!
//! Assets are never read at render time, and a name can only pick a file in `assets/`, so no
//! template value can reach another file.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::LoadError;

/// Largest file `assets/` may hold.
const MAX_ASSET_BYTES: u64 = 5 * 1024 * 1024;

/// The files in `assets/`, as data URLs by file name, and a hash over all of them.
pub struct Assets {
    urls: BTreeMap<String, String>,
    hash: blake3::Hash,
}

/// Reads `dir` (if it exists): PNG, JPEG, WebP, GIF and SVG files of at most
/// [`MAX_ASSET_BYTES`], whose content must match their extension.
pub fn load(dir: &Path) -> Result<Assets, LoadError> {
    let mut urls = BTreeMap::new();
    let mut hasher = blake3::Hasher::new();
    if !dir.is_dir() {
        return Ok(Assets {
            urls,
            hash: hasher.finalize(),
        });
    }
    let io = LoadError::io;
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    for path in paths {
        let fail = |message: String| LoadError::Asset {
            path: path.clone(),
            message,
        };
        let size = std::fs::metadata(&path).map_err(io(&path))?.len();
        if size > MAX_ASSET_BYTES {
            return Err(fail(format!(
                "{size} bytes; assets may be at most {MAX_ASSET_BYTES}"
            )));
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mime = asset_mime(&ext, &bytes).ok_or_else(|| {
            fail("not a PNG, JPEG, WebP, GIF or SVG file matching its extension".to_string())
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        urls.insert(name, crate::media::data_url(mime, &bytes));
    }
    Ok(Assets {
        urls,
        hash: hasher.finalize(),
    })
}

/// The MIME type for an asset, if its bytes are what its extension says.
fn asset_mime(ext: &str, bytes: &[u8]) -> Option<&'static str> {
    let expected = match ext {
        "svg" => {
            let svg = std::str::from_utf8(bytes).is_ok_and(|t| t.contains("<svg"));
            return svg.then_some("image/svg+xml");
        }
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    };
    crate::media::raster_mime(bytes).filter(|&mime| mime == expected)
}

impl Assets {
    /// The asset called `name` as a data URL, if `assets/` has it.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.urls.get(name).map(String::as_str)
    }

    /// A hash over every asset's name and bytes.
    pub fn hash(&self) -> &blake3::Hash {
        &self.hash
    }
}
