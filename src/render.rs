//! SVG text to pixels: a locked-down usvg parse and a size-checked resvg rasterisation.
//!
//! No I/O happens here. The parser never reads files or the network: `<image href>` only
//! resolves `data:` URLs, DTDs are refused (entity amplification), and the node count is
//! capped. The pixel budget is checked before the pixmap is allocated, because tiny-skia
//! aborts the process when an allocation fails.

use std::sync::Arc;

use tiny_skia::{Pixmap, Transform};

/// Why an SVG could not be turned into pixels.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The filled template is not SVG that usvg accepts.
    #[error("svg parse failed: {0}")]
    Parse(String),
    /// The output would be larger than the pixel budget.
    #[error("{width}x{height} exceeds the pixel budget of {limit}")]
    TooManyPixels {
        /// Output width in pixels.
        width: u64,
        /// Output height in pixels.
        height: u64,
        /// The budget.
        limit: u64,
    },
}

/// The MIME type of a PNG, JPEG, WebP or GIF file, from its magic bytes; `None` for
/// anything else (SVG included: only the project's own assets may be SVG).
pub fn raster_mime(bytes: &[u8]) -> Option<&'static str> {
    match imagesize::image_type(bytes).ok()? {
        imagesize::ImageType::Png => Some("image/png"),
        imagesize::ImageType::Jpeg => Some("image/jpeg"),
        imagesize::ImageType::Webp => Some("image/webp"),
        imagesize::ImageType::Gif => Some("image/gif"),
        _ => None,
    }
}

/// A `data:` URL for an `<image href>`, the only kind of href the parser resolves.
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    format!("data:{mime};base64,{encoded}")
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
) -> Result<usvg::Tree, RenderError> {
    let xml_options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: max_nodes,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(svg, xml_options)
        .map_err(|e| RenderError::Parse(e.to_string()))?;
    usvg::Tree::from_xmltree(&doc, options).map_err(|e| RenderError::Parse(e.to_string()))
}

/// The output size of `tree` at `scale`, in whole pixels.
pub fn output_size(tree: &usvg::Tree, scale: f32) -> (u64, u64) {
    let size = tree.size();
    let side = |v: f32| (v * scale).ceil().max(1.0) as u64;
    (side(size.width()), side(size.height()))
}

/// Rasterises `tree` at `scale`, after checking the output against `max_pixels`.
pub fn rasterize(tree: &usvg::Tree, scale: f32, max_pixels: u64) -> Result<Pixmap, RenderError> {
    let (width, height) = output_size(tree, scale);
    if width.saturating_mul(height) > max_pixels {
        return Err(RenderError::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    let too_big = || RenderError::TooManyPixels {
        width,
        height,
        limit: max_pixels,
    };
    let mut pixmap = Pixmap::new(
        u32::try_from(width).map_err(|_| too_big())?,
        u32::try_from(height).map_err(|_| too_big())?,
    )
    .ok_or_else(too_big)?;
    resvg::render(
        tree,
        Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    Ok(pixmap)
}
