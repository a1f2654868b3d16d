//! Images from the operator's own directories (`--image-dir`): an `image` param that is a
//! path rather than a URL names a file inside one of them.
//!
//! Paths are confined: `..` is refused outright, an absolute path must lie inside one of the
//! directories, and a path whose real location (symbolic links followed) is outside them is
//! refused. The file then gets the same size, type and dimension checks as a fetched image.
//! Messages repeat the path as given, never the directories themselves.

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;

use super::client::Fetched;
use crate::media::{ImageError, check_image};

/// Why a local image was not read; `Display` is the public message (after the param name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocalError {
    /// The path climbs with `..`.
    #[error("{0}: \"..\" is not allowed in an image path")]
    Parent(String),
    /// An absolute path outside every image directory.
    #[error("{0} is outside the image directories")]
    Outside(String),
    /// The path resolves (through a symbolic link) to a file outside every image directory.
    #[error("{0} leads outside the image directories (symbolic link)")]
    Escapes(String),
    /// No image directory holds the path.
    #[error("no file {0} in the image directories")]
    NotFound(String),
    /// The path names a directory or another non-file.
    #[error("{0} is not a file")]
    NotAFile(String),
    /// The file exists but could not be read.
    #[error("{0} could not be read: {1}")]
    Unreadable(String, String),
    /// The file is too large or not an image a template may draw.
    #[error("{0}: {1}")]
    Image(String, ImageError),
}

impl LocalError {
    /// Whether the path itself was refused, as opposed to naming a file that is missing or
    /// unusable.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            LocalError::Parent(_) | LocalError::Outside(_) | LocalError::Escapes(_)
        )
    }
}

/// One image directory: as given (made absolute) and its real location.
#[derive(Debug)]
struct Dir {
    given: PathBuf,
    real: PathBuf,
}

/// The directories local images may be read from, and the limits on each file.
#[derive(Debug)]
pub struct ImageDirs {
    dirs: Vec<Dir>,
    max_bytes: usize,
    max_side: usize,
}

impl ImageDirs {
    /// Image directories `dirs` (searched in order for a relative path), each file at most
    /// `max_bytes` long and `max_side` pixels per side. Fails naming a directory that does
    /// not exist.
    pub fn new(dirs: &[PathBuf], max_bytes: usize, max_side: usize) -> std::io::Result<ImageDirs> {
        let dirs = dirs
            .iter()
            .map(|dir| {
                let fail = |e: std::io::Error| {
                    std::io::Error::new(e.kind(), format!("--image-dir {}: {e}", dir.display()))
                };
                let real = std::fs::canonicalize(dir).map_err(fail)?;
                if !real.is_dir() {
                    return Err(fail(std::io::Error::other("not a directory")));
                }
                let given = std::path::absolute(dir).map_err(fail)?;
                Ok(Dir { given, real })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(ImageDirs {
            dirs,
            max_bytes,
            max_side,
        })
    }

    /// Reads and checks the image at `path`: relative to the first directory that holds it,
    /// or absolute inside one of them.
    pub fn read(&self, path: &str) -> Result<Fetched, LocalError> {
        let given = Path::new(path);
        if given.components().any(|c| c == Component::ParentDir) {
            return Err(LocalError::Parent(path.to_string()));
        }
        let candidates: Vec<PathBuf> = if given.is_absolute() {
            let inside = self
                .dirs
                .iter()
                .any(|d| given.starts_with(&d.given) || given.starts_with(&d.real));
            if !inside {
                return Err(LocalError::Outside(path.to_string()));
            }
            vec![given.to_path_buf()]
        } else {
            self.dirs.iter().map(|d| d.real.join(given)).collect()
        };
        for candidate in candidates {
            match std::fs::canonicalize(&candidate) {
                Ok(real) if self.dirs.iter().any(|d| real.starts_with(&d.real)) => {
                    return self.read_file(path, &real);
                }
                Ok(_) => return Err(LocalError::Escapes(path.to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(LocalError::Unreadable(path.to_string(), e.to_string())),
            }
        }
        Err(LocalError::NotFound(path.to_string()))
    }

    /// Reads the file at its real location `real`, at most `max_bytes`, and checks it.
    fn read_file(&self, path: &str, real: &Path) -> Result<Fetched, LocalError> {
        let unreadable =
            |e: std::io::Error| LocalError::Unreadable(path.to_string(), e.to_string());
        let too_large =
            || LocalError::Image(path.to_string(), ImageError::TooLarge(self.max_bytes));
        let file = std::fs::File::open(real).map_err(unreadable)?;
        let meta = file.metadata().map_err(unreadable)?;
        if !meta.is_file() {
            return Err(LocalError::NotAFile(path.to_string()));
        }
        if meta.len() > self.max_bytes as u64 {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(self.max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() > self.max_bytes {
            return Err(too_large());
        }
        let mime = check_image(&bytes, self.max_side)
            .map_err(|e| LocalError::Image(path.to_string(), e))?;
        Ok(Fetched {
            mime,
            bytes: Bytes::from(bytes),
        })
    }
}
