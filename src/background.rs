//! A template's background: an asset under the whole canvas that no parameter changes,
//! parsed and drawn once when templates load.
//!
//! It is kept three ways: as a tree (drawn under renders at scales other than 1), as pixels at
//! scale 1 (copied under renders at scale 1), and as PNG rows compressed once (the
//! [`Backdrop`], so that encoding a render compresses only the rows it drew on).

use crate::encode::Backdrop;
use crate::raster::{self, RasterError, Under};

/// A template's background: an asset covering the canvas, kept as a tree for any scale and
/// drawn once at scale 1, so that a render at scale 1 starts from a copy of its pixels (and
/// its PNG reuses the backdrop's compressed rows).
pub struct Background {
    /// The asset as a data URL, for `.svg` output.
    data_url: String,
    tree: usvg::Tree,
    at_scale_one: Backdrop,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Background({:?})", self.at_scale_one)
    }
}

impl Background {
    /// Parses and draws the image at `data_url` stretched over a `width` x `height` canvas.
    pub fn new(
        data_url: &str,
        width: u32,
        height: u32,
        options: &usvg::Options,
    ) -> Result<Background, RasterError> {
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">\
             <image href=\"{data_url}\" width=\"{width}\" height=\"{height}\" \
             preserveAspectRatio=\"none\"/></svg>"
        );
        let tree = raster::parse(&svg, options, 1000)?;
        let at_scale_one = raster::rasterize(&tree, 1.0, u64::MAX, None)?;
        Ok(Background {
            data_url: data_url.to_string(),
            tree,
            at_scale_one: Backdrop::new(at_scale_one),
        })
    }

    /// A background found in a filled template (see [`crate::found_backgrounds`]): `tree`
    /// drawn at scale 1, with no PNG rows compressed ahead, so a render's file is the one it
    /// would be without it.
    pub fn drawn(tree: usvg::Tree) -> Result<Background, RasterError> {
        let at_scale_one = raster::rasterize(&tree, 1.0, u64::MAX, None)?;
        Ok(Background {
            data_url: String::new(),
            tree,
            at_scale_one: Backdrop::pixels_only(at_scale_one),
        })
    }

    /// The background drawn at scale 1 with its PNG rows compressed, for the encoder.
    pub fn backdrop(&self) -> &Backdrop {
        &self.at_scale_one
    }

    /// What a render at any scale draws first, for [`raster::rasterize`].
    pub fn under(&self) -> Under<'_> {
        Under {
            tree: &self.tree,
            at_scale_one: self.at_scale_one.pixmap(),
        }
    }

    /// `svg` with the background as an `<image>` before everything else, so that `.svg`
    /// output shows what the raster formats show.
    pub fn under_svg(&self, svg: &str) -> String {
        let pixmap = self.at_scale_one.pixmap();
        with_background_image(svg, &self.data_url, pixmap.width(), pixmap.height())
    }
}

impl crate::cache::Weigh for std::sync::Arc<Background> {
    fn bytes(&self) -> usize {
        // The pixels, and a little for the tree of a few shapes.
        self.at_scale_one.pixmap().data().len() + 64 * 1024
    }
}

/// `svg` with `<image>` of the background inserted as the root element's first child.
fn with_background_image(svg: &str, data_url: &str, width: u32, height: u32) -> String {
    let image = format!(
        "<image href=\"{data_url}\" x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" \
         preserveAspectRatio=\"none\"/>"
    );
    let Ok(doc) = roxmltree::Document::parse(svg) else {
        return svg.to_string(); // not SVG: parsing it for output fails the same way anyway
    };
    let root = doc.root_element();
    let (before, inserted, after) = match root.first_child() {
        Some(child) => {
            let at = child.range().start;
            (&svg[..at], image, &svg[at..])
        }
        // `<svg .../>`: open it, add the image, close it.
        None => {
            let end = root.range().end;
            let head = svg[..end].trim_end_matches("/>");
            (head, format!(">{image}</svg>"), &svg[end..])
        }
    };
    format!("{before}{inserted}{after}")
}
