//! SVG text to pixels: a locked-down usvg parse and a size-checked resvg rasterisation.
//!
//! No I/O and no encoding happen here (that is [`crate::encode`]). The parser never reads files or the network: `<image href>` only
//! resolves `data:` URLs, DTDs are refused (entity amplification), and the node count is
//! capped. The pixel budget is checked before the pixmap is allocated, because tiny-skia
//! aborts the process when an allocation fails.

use std::sync::Arc;

use tiny_skia::{Pixmap, Transform};

use crate::error::TooManyPixels;

mod strips;

pub use strips::draws_node_by_node;

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
    rasterize_reusing(tree, scale, max_pixels, under, None)
}

/// [`rasterize`] into `reuse` when it has the output's size (its pixels are overwritten),
/// sparing the allocation.
pub fn rasterize_reusing(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    under: Option<Under>,
    reuse: Option<Pixmap>,
) -> Result<Pixmap, RasterError> {
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
    let mut pixmap = match reuse {
        Some(pixmap) if pixmap.width() == width && pixmap.height() == height => pixmap,
        _ => Pixmap::new(width, height).ok_or_else(too_big)?,
    };
    let by_node = under.is_none_or(|under| under.node_by_node_over) && draws_node_by_node(tree);
    match under {
        Some(Under { pixels, .. }) if pixels.width() == width && pixels.height() == height => {
            strips::draw(tree, transform, &mut pixmap, by_node, Some(pixels));
        }
        Some(Under { tree: under, .. }) => {
            // Drawn as its pixels were drawn (see `Background::drawn`), so a render is the
            // same whether they fit or not.
            pixmap.fill(tiny_skia::Color::TRANSPARENT);
            let under_by_node = draws_node_by_node(under);
            strips::draw(under, transform, &mut pixmap, under_by_node, None);
            strips::draw(tree, transform, &mut pixmap, by_node, None);
        }
        None => {
            pixmap.fill(tiny_skia::Color::TRANSPARENT);
            strips::draw(tree, transform, &mut pixmap, by_node, None);
        }
    }
    Ok(pixmap)
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
