//! SVG text to pixels: a locked-down usvg parse and a size-checked resvg rasterisation.
//!
//! No I/O happens here. The parser never reads files or the network: `<image href>` only
//! resolves `data:` URLs, DTDs are refused (entity amplification), and the node count is
//! capped. The pixel budget is checked before the pixmap is allocated, because tiny-skia
//! aborts the process when an allocation fails.

use std::sync::Arc;

use tiny_skia::{Pixmap, Transform};

use crate::encode::Backdrop;

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

/// A template's background: an asset covering the canvas, kept as a tree for any scale and
/// drawn once at scale 1, so that a render at scale 1 starts from a copy of its pixels (and
/// its PNG reuses the backdrop's compressed rows).
pub struct Background {
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
    ) -> Result<Background, RenderError> {
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">\
             <image href=\"{data_url}\" width=\"{width}\" height=\"{height}\" \
             preserveAspectRatio=\"none\"/></svg>"
        );
        let tree = parse(&svg, options, 1000)?;
        let mut at_scale_one = Pixmap::new(width, height).ok_or(RenderError::TooManyPixels {
            width: width.into(),
            height: height.into(),
            limit: u64::from(width) * u64::from(height),
        })?;
        resvg::render(&tree, Transform::identity(), &mut at_scale_one.as_mut());
        Ok(Background {
            tree,
            at_scale_one: Backdrop::new(at_scale_one),
        })
    }

    /// The background drawn at scale 1, for the encoder.
    pub fn backdrop(&self) -> &Backdrop {
        &self.at_scale_one
    }
}

/// Rasterises `tree` at `scale` over `background` (if any), after checking the output
/// against `max_pixels`.
pub fn rasterize(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    background: Option<&Background>,
) -> Result<Pixmap, RenderError> {
    rasterize_reusing(tree, scale, max_pixels, background, None)
}

/// [`rasterize`] into `reuse` when it has the output's size (its pixels are overwritten),
/// sparing the allocation.
pub fn rasterize_reusing(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    background: Option<&Background>,
    reuse: Option<Pixmap>,
) -> Result<Pixmap, RenderError> {
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
    let (width, height) = (
        u32::try_from(width).map_err(|_| too_big())?,
        u32::try_from(height).map_err(|_| too_big())?,
    );
    let transform = Transform::from_scale(scale, scale);
    let mut pixmap = match reuse {
        Some(pixmap) if pixmap.width() == width && pixmap.height() == height => pixmap,
        _ => Pixmap::new(width, height).ok_or_else(too_big)?,
    };
    match background.map(|bg| (bg, bg.at_scale_one.pixmap())) {
        Some((_, drawn)) if drawn.width() == width && drawn.height() == height => {
            pixmap.data_mut().copy_from_slice(drawn.data());
        }
        Some((bg, _)) => {
            pixmap.fill(tiny_skia::Color::TRANSPARENT);
            resvg::render(&bg.tree, transform, &mut pixmap.as_mut());
        }
        None => pixmap.fill(tiny_skia::Color::TRANSPARENT),
    }
    resvg::render(tree, transform, &mut pixmap.as_mut());
    Ok(pixmap)
}

/// `svg` with `<image>` of the background inserted as the root element's first child, so
/// that `.svg` output shows what the raster formats show.
pub fn with_background_image(svg: &str, data_url: &str, width: u32, height: u32) -> String {
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
