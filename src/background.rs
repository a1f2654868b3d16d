//! What a render draws first, drawn once: a template's background (an asset under the whole
//! canvas that no parameter changes, drawn when templates load), or the leading elements found
//! in filled templates (see [`crate::found_backgrounds`]).
//!
//! It is kept as a tree (drawn under renders at other scales) and as pixels at one scale
//! (copied under renders at that scale), with their PNG rows compressed in blocks (the
//! [`Backdrop`], so that encoding a render compresses only the blocks it drew on).

use crate::encode::{Backdrop, Over};
use crate::raster::{self, Canvas, RasterError, Under};

/// A background: a tree, and its pixels drawn at one scale (1 for a template's own) with
/// their PNG blocks, so that a render at that scale starts from a copy of the pixels and
/// its PNG reuses the blocks.
pub struct Background {
    /// The asset as a data URL, for `.svg` output (empty for a found background).
    data_url: String,
    tree: usvg::Tree,
    drawn: Backdrop,
    /// What it is keyed by when drawn at other scales: a hash of its markup.
    key: blake3::Hash,
    /// Whether a render over it may draw node by node (see [`raster::draws_node_by_node`]):
    /// always over a template's own background (no render draws it otherwise); over found
    /// elements only if they were drawn so, as a render in one pass would have drawn them.
    node_by_node_over: bool,
    /// Where it draws the found elements it took from after one that changes, which a render
    /// over it then draws before that element (see [`Background::clear_of`]).
    moved: Option<usvg::NonZeroRect>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Background({:?})", self.drawn)
    }
}

impl Background {
    /// Parses and draws the image at `data_url` stretched over a `width` x `height` canvas,
    /// at scale 1, its blocks compressed at the best level (every render copies them).
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
            drawn: Backdrop::new(at_scale_one),
            key: blake3::hash(svg.as_bytes()),
            node_by_node_over: true,
            moved: None,
        })
    }

    /// `tree` (keyed by `key`) drawn at `scale`, its blocks compressed as a PNG at `level`
    /// compresses them, so that a render's file is the one it would be without it.
    pub fn drawn(
        tree: usvg::Tree,
        key: blake3::Hash,
        scale: f32,
        level: u8,
    ) -> Result<Background, RasterError> {
        let pixmap = raster::rasterize(&tree, scale, u64::MAX, None)?;
        Ok(Background {
            data_url: String::new(),
            node_by_node_over: raster::draws_node_by_node(&tree),
            tree,
            drawn: Backdrop::same_as_drawn(pixmap, level),
            key,
            moved: None,
        })
    }

    /// This background, told the bounds of the found elements it took from after one that
    /// changes (drawn here before elements the SVG draws before them).
    pub fn with_moved(self, moved: Option<usvg::NonZeroRect>) -> Background {
        Background { moved, ..self }
    }

    /// Whether `rest`, drawn over it at `scale`, gives the pixels of one pass: nothing it
    /// draws may come within a pixel of the elements drawn here out of their order (pixels
    /// only one of them touches are the same in either order).
    pub fn clear_of(&self, rest: &usvg::Tree, scale: f32) -> bool {
        let Some(moved) = self.moved else {
            return true;
        };
        if !rest.root().has_children() {
            return true;
        }
        let on_canvas = |bounds: usvg::NonZeroRect| {
            let bounds = bounds.transform(tiny_skia::Transform::from_scale(scale, scale))?;
            tiny_skia::IntRect::from_ltrb(
                bounds.left().floor() as i32 - 1,
                bounds.top().floor() as i32 - 1,
                bounds.right().ceil() as i32 + 1,
                bounds.bottom().ceil() as i32 + 1,
            )
        };
        match (
            on_canvas(moved),
            on_canvas(rest.root().abs_layer_bounding_box()),
        ) {
            (Some(moved), Some(rest)) => moved.intersect(&rest).is_none(),
            _ => false,
        }
    }

    /// This background drawn at `scale` (see [`Background::drawn`]).
    pub fn at_scale(&self, scale: f32, level: u8) -> Result<Background, RasterError> {
        let drawn = Background::drawn(self.tree.clone(), self.key, scale, level)?;
        Ok(Background {
            node_by_node_over: self.node_by_node_over,
            moved: self.moved,
            ..drawn
        })
    }

    /// Whether a tree drawn over it may be drawn node by node.
    pub fn node_by_node_over(&self) -> bool {
        self.node_by_node_over
    }

    /// What it is keyed by when drawn at other scales.
    pub fn key(&self) -> blake3::Hash {
        self.key
    }

    /// The drawn pixels with their PNG blocks, for the encoder.
    pub fn backdrop(&self) -> &Backdrop {
        &self.drawn
    }

    /// Its backdrop with the rows `canvas`, drawn over it, may have changed, for the encoder.
    pub fn over<'a>(&'a self, canvas: &'a Canvas) -> Over<'a> {
        Over {
            backdrop: &self.drawn,
            changed: canvas.changed_from(self.drawn.id()),
        }
    }

    /// What a render draws first, for [`raster::rasterize`].
    pub fn under(&self) -> Under<'_> {
        Under {
            tree: &self.tree,
            pixels: self.drawn.pixmap(),
            node_by_node_over: self.node_by_node_over,
            id: self.drawn.id(),
        }
    }

    /// `svg` with the background as an `<image>` before everything else, so that `.svg`
    /// output shows what the raster formats show.
    pub fn under_svg(&self, svg: &str) -> String {
        let size = self.tree.size();
        let (width, height) = (size.width().round() as u32, size.height().round() as u32);
        with_background_image(svg, &self.data_url, width, height)
    }
}

impl crate::cache::Weigh for std::sync::Arc<Background> {
    fn bytes(&self) -> usize {
        // The pixels, their blocks and encoder data, and a little for a tree of a few shapes.
        self.drawn.bytes() + 64 * 1024
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
