//! SVG text to pixels: a locked-down usvg parse and a size-checked resvg rasterisation.
//!
//! No I/O and no encoding happen here (that is [`crate::encode`]). The parser never reads files or the network: `<image href>` only
//! resolves `data:` URLs, DTDs are refused (entity amplification), and the node count is
//! capped. The pixel budget is checked before the pixmap is allocated, because tiny-skia
//! aborts the process when an allocation fails.

use std::ops::Range;
use std::sync::Arc;

use tiny_skia::{Pixmap, Transform};

use crate::error::TooManyPixels;

mod blend;
mod glyphs;
mod images;
mod shrink;
mod strips;

pub use glyphs::{MASKS_BUDGET, counters as glyph_mask_counters};
pub use images::{DECODED_BUDGET, SHRUNK_BUDGET, counters as shrunk_photo_counters};
pub use strips::{any_meets, draws_node_by_node};

/// Why an SVG could not be turned into pixels.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// The filled template is not SVG that usvg accepts.
    #[error("svg parse failed: {0}")]
    Parse(String),
    /// The output would be larger than the pixel budget.
    #[error(transparent)]
    TooManyPixels(#[from] TooManyPixels),
}

/// What a render draws first, under the template's own tree: a tree, with its pixels at one
/// scale already drawn (a background; see [`crate::background`]).
#[derive(Clone, Copy)]
pub struct Under<'a> {
    /// The tree, drawn when the pixels do not fit the output.
    pub tree: &'a usvg::Tree,
    /// Its pixels, copied rather than drawn when they have the output's size.
    pub pixels: &'a Pixmap,
    /// Whether the tree over it may be drawn node by node (see [`draws_node_by_node`]).
    pub node_by_node_over: bool,
    /// Which pixels these are ([`crate::encode::Backdrop::id`]): a canvas that held them
    /// before needs only the rows drawn on since restored.
    pub id: u64,
}

/// A rasterised image, and which of its rows may differ from the pixels it was drawn over:
/// a canvas kept for the next render over the same pixels (see [`rasterize_reusing`]) takes
/// only those rows from them again, and its encoder compares only those (see
/// [`crate::encode::Over`]).
pub struct Canvas {
    /// The pixels.
    pub pixmap: Pixmap,
    /// The [`Under::id`] of the pixels it was drawn over, if they had its size.
    over: Option<u64>,
    /// The rows that may differ from those pixels, in order, apart; the others hold them
    /// exactly.
    changed: Vec<Range<u32>>,
}

/// Every row of any canvas, as a list of row ranges.
#[allow(
    clippy::single_range_in_vec_init,
    reason = "a list of one range, not a range"
)]
pub const EVERY_ROW: &[Range<u32>] = &[0..u32::MAX];

impl From<Pixmap> for Canvas {
    /// A canvas of stale pixels, drawn over nothing known.
    fn from(pixmap: Pixmap) -> Canvas {
        Canvas {
            pixmap,
            over: None,
            changed: EVERY_ROW.to_vec(),
        }
    }
}

impl Canvas {
    /// The rows that may differ from the pixels of [`Under::id`] `id`, in order: all of them
    /// unless it was drawn over those.
    pub fn changed_from(&self, id: u64) -> &[Range<u32>] {
        match self.over {
            Some(over) if over == id => &self.changed,
            _ => EVERY_ROW,
        }
    }
}

/// usvg options shared by every render: the one font database and its fallback chooser, no
/// file access, and `Inter` as the family for text that names none.
pub fn usvg_options(
    fontdb: Arc<fontdb::Database>,
    fallback: Arc<crate::fonts::Fallback>,
) -> usvg::Options<'static> {
    usvg::Options {
        resources_dir: None,
        font_family: crate::fonts::DEFAULT_FAMILY.to_string(),
        fontdb,
        font_resolver: usvg::FontResolver {
            select_font: usvg::FontResolver::default_font_selector(),
            select_fallback: Box::new(move |c, tried, _db| fallback.select(c, tried)),
        },
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data: usvg::ImageHrefResolver::default_data_resolver(),
            // Anything that is not a data: URL (a path, file:, http:) resolves to nothing.
            resolve_string: Box::new(|_href, _opts| None),
        },
        ..usvg::Options::default()
    }
}

/// Parses filled SVG text into a render tree, refusing DTDs and more than `max_nodes` nodes.
pub fn parse(
    svg: &str,
    options: &usvg::Options,
    max_nodes: u32,
) -> Result<usvg::Tree, RasterError> {
    let xml_options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: max_nodes,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(svg, xml_options)
        .map_err(|e| RasterError::Parse(e.to_string()))?;
    usvg::Tree::from_xmltree(&doc, options).map_err(|e| RasterError::Parse(e.to_string()))
}

/// The output size of `tree` at `scale`, in whole pixels.
pub fn output_size(tree: &usvg::Tree, scale: f32) -> (u64, u64) {
    let size = tree.size();
    let side = |v: f32| (v * scale).ceil().max(1.0) as u64;
    (side(size.width()), side(size.height()))
}

/// Rasterises `tree` at `scale` over `under` (if any), after checking the output against
/// `max_pixels`.
pub fn rasterize(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    under: Option<Under>,
) -> Result<Pixmap, RasterError> {
    rasterize_reusing(tree, scale, max_pixels, under, None).map(|canvas| canvas.pixmap)
}

/// [`rasterize`] into `reuse` when it has the output's size, sparing the allocation; if it
/// was drawn over the same `under` pixels, only the rows drawn on then are taken from them
/// again (the others still hold them).
pub fn rasterize_reusing(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    under: Option<Under>,
    reuse: Option<Canvas>,
) -> Result<Canvas, RasterError> {
    let (width, height) = output_size(tree, scale);
    let too_big = || TooManyPixels {
        width,
        height,
        limit: max_pixels,
    };
    if width.saturating_mul(height) > max_pixels {
        return Err(too_big().into());
    }
    let (width, height) = (
        u32::try_from(width).map_err(|_| too_big())?,
        u32::try_from(height).map_err(|_| too_big())?,
    );
    let transform = Transform::from_scale(scale, scale);
    let mut canvas = match reuse {
        Some(canvas) if canvas.pixmap.width() == width && canvas.pixmap.height() == height => {
            canvas
        }
        _ => Canvas::from(Pixmap::new(width, height).ok_or_else(too_big)?),
    };
    let by_node = under.is_none_or(|under| under.node_by_node_over) && draws_node_by_node(tree);
    match under {
        Some(Under { pixels, id, .. }) if pixels.width() == width && pixels.height() == height => {
            let drawn = match by_node {
                true => strips::rows_drawn(tree, transform),
                false => EVERY_ROW.to_vec(),
            };
            let stale = canvas.changed_from(id).to_vec();
            let first = strips::First {
                pixels,
                stale: &stale,
            };
            strips::draw(
                tree,
                transform,
                &mut canvas.pixmap,
                by_node,
                Some(first),
                &drawn,
            );
            canvas.over = Some(id);
            canvas.changed = drawn;
        }
        Some(Under { tree: under, .. }) => {
            // Drawn as its pixels were drawn (see `Background::drawn`), so a render is the
            // same whether they fit or not.
            let pixmap = &mut canvas.pixmap;
            pixmap.fill(tiny_skia::Color::TRANSPARENT);
            let under_by_node = draws_node_by_node(under);
            strips::draw(under, transform, pixmap, under_by_node, None, EVERY_ROW);
            strips::draw(tree, transform, pixmap, by_node, None, EVERY_ROW);
            canvas.over = None;
        }
        None => {
            canvas.pixmap.fill(tiny_skia::Color::TRANSPARENT);
            strips::draw(
                tree,
                transform,
                &mut canvas.pixmap,
                by_node,
                None,
                EVERY_ROW,
            );
            canvas.over = None;
        }
    }
    Ok(canvas)
}

/// The text of every cluster `tree` draws as .notdef (glyph 0, a missing-glyph box), each
/// once, in order: text no loaded font can draw.
pub fn missing_glyphs(tree: &usvg::Tree) -> Vec<String> {
    fn walk(group: &usvg::Group, out: &mut Vec<String>) {
        for node in group.children() {
            match node {
                usvg::Node::Group(g) => walk(g, out),
                usvg::Node::Text(text) => {
                    let glyphs = text.layouted().iter().flat_map(|s| &s.positioned_glyphs);
                    for glyph in glyphs {
                        if glyph.id.0 == 0
                            && !glyph.text.trim().is_empty()
                            && !out.contains(&glyph.text)
                        {
                            out.push(glyph.text.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(tree.root(), &mut out);
    out
}

/// Code points as `U+0BA4 U+0BAE`, for logs and reports.
pub fn code_points(text: &str) -> String {
    text.chars()
        .map(|c| format!("U+{:04X}", c as u32))
        .collect::<Vec<_>>()
        .join(" ")
}
