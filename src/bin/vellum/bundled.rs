//! The bundled templates and fonts, compiled into the binary, so that `vellum` works from any
//! directory and after `cargo install`. They are used when `--templates` or `--fonts` is not
//! given and `./templates` or `./fonts` does not exist, unpacked into a private temporary
//! directory that is removed when the command ends.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
static FONTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/fonts");

/// Bundled files unpacked for this run; the directory goes when this is dropped.
pub struct Unpacked {
    dir: tempfile::TempDir,
}

impl Unpacked {
    /// Unpacks the bundled templates and fonts.
    pub fn new() -> std::io::Result<Unpacked> {
        let dir = tempfile::Builder::new()
            .prefix("vellum-bundled-")
            .tempdir()?;
        TEMPLATES.extract(dir.path().join("templates"))?;
        FONTS.extract(dir.path().join("fonts"))?;
        Ok(Unpacked { dir })
    }

    /// The bundled templates.
    pub fn templates(&self) -> PathBuf {
        self.path().join("templates")
    }

    /// The bundled fonts.
    pub fn fonts(&self) -> PathBuf {
        self.path().join("fonts")
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}
