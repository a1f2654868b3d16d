//! Output files written whole: through a temporary file beside the target and a rename, so
//! that a file that exists is complete even if a run is interrupted.

use std::path::Path;

/// Writes through a temporary file in the same directory and a rename, so a file that
/// exists is whole (an interrupted run leaves no half-written image).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".vellum-").suffix(".tmp");
    // As `fs::write` would: readable by others as far as the umask allows (tempfile's own
    // default is owner-only, which a web server reading the images could not open).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
