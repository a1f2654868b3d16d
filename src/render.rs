//! SVG text to pixels: a locked-down usvg parse and a size-checked resvg rasterisation.
//!
//! No I/O happens here. The parser never reads files or the network: `<image href>` only
//! resolves `data:` URLs, DTDs are refused (entity amplification), and the node count is
//! capped. The pixel budget is checked before the pixmap is allocated, because tiny-skia
//! aborts the process when an allocation fails.

use std::sync::Arc;

use rayon::prelude::*;
use tiny_skia::{Pixmap, PixmapMut, Transform};

/// Horizontal bands a canvas is cut into, drawn in parallel by rayon's threads. A constant,
/// not the number of cores: the bytes of an image (which one ETag names) must not depend on
/// the machine that drew it.
const BANDS: u32 = 4;
/// Fewest rows a band may have; smaller images are cut into fewer bands.
const MIN_BAND_ROWS: u32 = 64;

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
///
/// The canvas is cut into [`BANDS`] horizontal bands, each drawn by a rayon thread straight
/// into its rows of the pixmap: a card renders in about half the time on two idle cores.
/// Trees with filters are drawn whole, since a filter (a blur, a shadow) reads pixels across
/// a band's edge.
pub fn rasterize(tree: &usvg::Tree, scale: f32, max_pixels: u64) -> Result<Pixmap, RenderError> {
    draw(tree, scale, max_pixels, bands_for(tree), &mut |_| {})
}

/// [`rasterize`], handing each band's rows (premultiplied RGBA), top to bottom, to `consume`
/// as soon as it and every band above it are drawn. `consume` runs on the calling thread
/// while the bands below are still being drawn, so an encoder can work alongside.
pub fn rasterize_streaming(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    consume: &mut dyn FnMut(&[u8]),
) -> Result<Pixmap, RenderError> {
    draw(tree, scale, max_pixels, bands_for(tree), consume)
}

/// [`rasterize`] with at most `bands` bands (1: the whole canvas on the calling thread).
///
/// A band draws the same geometry shifted by a whole number of rows; the only difference
/// from one pass is f32 rounding in that shift, which can move an anti-aliased edge by one
/// of tiny-skia's quarter-pixel sub-scanlines (up to 64 of 255 in that edge pixel).
pub fn rasterize_in_bands(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    bands: u32,
) -> Result<Pixmap, RenderError> {
    draw(tree, scale, max_pixels, bands, &mut |_| {})
}

fn bands_for(tree: &usvg::Tree) -> u32 {
    if tree.filters().is_empty() { BANDS } else { 1 }
}

fn draw(
    tree: &usvg::Tree,
    scale: f32,
    max_pixels: u64,
    bands: u32,
    consume: &mut dyn FnMut(&[u8]),
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
    let mut pixmap = Pixmap::new(width, height).ok_or_else(too_big)?;
    let transform = Transform::from_scale(scale, scale);
    let bands = bands.min(height / MIN_BAND_ROWS).max(1);
    if bands == 1 {
        resvg::render(tree, transform, &mut pixmap.as_mut());
        consume(pixmap.data());
        return Ok(pixmap);
    }
    let band_rows = height.div_ceil(bands);
    let stride = width as usize * 4;
    let draw_band = |i: usize, rows: &mut [u8]| {
        let top = i as u32 * band_rows;
        let count = (rows.len() / stride) as u32;
        let mut band =
            PixmapMut::from_bytes(rows, width, count).expect("a band is rows of the pixmap");
        // The same drawing, shifted up so that this band's first row is row 0.
        resvg::render(
            tree,
            transform.post_translate(0.0, -(top as f32)),
            &mut band,
        );
    };
    let chunks = pixmap.data_mut().chunks_mut(band_rows as usize * stride);
    if rayon::current_thread_index().is_some() {
        // Already on a rayon thread (a batch): blocking it on a channel could starve the
        // pool, so draw the bands as ordinary parallel work, then hand them over.
        let mut chunks: Vec<&mut [u8]> = chunks.collect();
        chunks
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, rows)| draw_band(i, rows));
        chunks.iter().for_each(|rows| consume(rows));
        return Ok(pixmap);
    }
    let count = chunks.len();
    rayon::in_place_scope(|scope| {
        let (done, finished) = std::sync::mpsc::channel::<(usize, &[u8])>();
        for (i, rows) in chunks.enumerate() {
            let done = done.clone();
            let draw_band = &draw_band;
            scope.spawn(move |_| {
                draw_band(i, rows);
                let _ = done.send((i, rows));
            });
        }
        drop(done);
        // Bands finish in any order; hand them over in order, each as soon as it can be.
        let mut ready: Vec<Option<&[u8]>> = vec![None; count];
        let mut next = 0;
        while next < count {
            let Ok((i, rows)) = finished.recv() else {
                break; // a band task panicked; the scope re-raises it
            };
            ready[i] = Some(rows);
            while let Some(rows) = ready.get_mut(next).and_then(Option::take) {
                consume(rows);
                next += 1;
            }
        }
    });
    Ok(pixmap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_draw_what_one_pass_draws_up_to_rounding() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = crate::Engine::new(crate::EngineConfig::bundled(root)).unwrap();
        let queries = [
            (
                "card-a",
                "title=How%20we%20rendered%20a%20million%20social%20cards",
            ),
            ("post", "title=Bands&subtitle=Sub&author=Ada&theme=light"),
            ("product", "name=Boot&price=89&old_price=120&badge=Sale"),
            (
                "certificate",
                "recipient=Grace&achievement=Compilers&verify_url=https%3A%2F%2Fa.example",
            ),
        ];
        for (template, query) in queries {
            let job = engine.prepare(template, crate::Format::Png, query).unwrap();
            let svg = engine.fill(&job).unwrap();
            let tree = parse(&svg, engine.usvg_options(), 100_000).unwrap();
            for scale in [1.0, 0.7, 1.37] {
                let whole = rasterize_in_bands(&tree, scale, u64::MAX, 1).unwrap();
                for bands in [2, 4, 7] {
                    let banded = rasterize_in_bands(&tree, scale, u64::MAX, bands).unwrap();
                    let (mut differ, mut worst) = (0, 0);
                    for (a, b) in whole.data().iter().zip(banded.data()) {
                        if a != b {
                            differ += 1;
                            worst = worst.max(a.abs_diff(*b));
                        }
                    }
                    let shown = format!("{template} at scale {scale} in {bands} bands");
                    assert!(worst <= 64, "{shown}: a byte differs by {worst}");
                    assert!(
                        differ * 200 < whole.data().len(),
                        "{shown}: {differ} bytes differ"
                    );
                }
            }
        }
    }

    #[test]
    fn streaming_hands_over_every_row_in_order() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = crate::Engine::new(crate::EngineConfig::bundled(root)).unwrap();
        let job = engine
            .prepare("post", crate::Format::Png, "title=Rows")
            .unwrap();
        let tree = parse(&engine.fill(&job).unwrap(), engine.usvg_options(), 100_000).unwrap();
        let mut rows = Vec::new();
        let pixmap = rasterize_streaming(&tree, 1.0, u64::MAX, &mut |band| {
            rows.extend_from_slice(band)
        })
        .unwrap();
        assert!(rows == pixmap.data());
        // The same from inside a one-thread pool, where streaming must not wait on itself.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut again = Vec::new();
        pool.install(|| {
            rasterize_streaming(&tree, 1.0, u64::MAX, &mut |band| {
                again.extend_from_slice(band)
            })
        })
        .unwrap();
        assert!(again == rows);
    }

    #[test]
    fn the_band_count_does_not_depend_on_the_machine() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = crate::Engine::new(crate::EngineConfig::bundled(root)).unwrap();
        let job = engine
            .prepare("post", crate::Format::Png, "title=Same%20bytes")
            .unwrap();
        let tree = parse(&engine.fill(&job).unwrap(), engine.usvg_options(), 100_000).unwrap();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| rasterize(&tree, 1.0, u64::MAX).unwrap())
        };
        let one = on(1);
        assert!(one.data() == on(2).data() && one.data() == on(5).data());
    }
}
