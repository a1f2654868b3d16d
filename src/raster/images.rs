//! Photos drawn at the size they take on the canvas: decoded, shrunk by averaging the source
//! pixels each canvas pixel covers, and copied through their clip paths. resvg samples a
//! shrunk photo with a bicubic filter at every canvas pixel: that was about 40% of a product
//! card with a 1200 px photo (such cards render about 1.5x as fast drawn here, README), and
//! a bicubic filter reads only 4x4 source pixels, so a photo shrunk more than twice aliases.
//!
//! Shrunk photos are kept (by their bytes' hash and their size on the canvas) within
//! [`SHRUNK_BUDGET`]: the same author's avatar on every post card is decoded once.
//!
//! Only the common shape is drawn here: a JPEG, PNG or WebP image, shrunk (or at its size)
//! along the axes, smoothly rendered, in groups of full opacity without masks or filters,
//! each clipped by at most one path. Anything else is resvg's. An SVG image in such groups
//! is drawn by resvg onto a pixmap of its own size rather than of the canvas's.

use std::sync::{Arc, OnceLock};

use tiny_skia::{FillRule, IntSize, Mask, Pixmap, PixmapMut, PixmapPaint, Transform};

use crate::cache::{ByteCache, CacheCounters, Weigh};

/// Bytes of shrunk photos kept (a 64 px avatar is 16 KB, a 550 px photo 1.2 MB).
pub const SHRUNK_BUDGET: usize = 8 * 1024 * 1024;

/// A photo's bytes (their hash) at a size on the canvas.
type Key = (blake3::Hash, u32, u32);

/// A shrunk photo.
#[derive(Clone)]
struct Shrunk(Arc<Pixmap>);

impl Weigh for Shrunk {
    fn bytes(&self) -> usize {
        self.0.data().len()
    }
}

/// Every kept shrunk photo, shared by every engine in the process.
fn kept() -> &'static ByteCache<Key, Shrunk> {
    static KEPT: OnceLock<ByteCache<Key, Shrunk>> = OnceLock::new();
    KEPT.get_or_init(|| ByteCache::new(SHRUNK_BUDGET))
}

/// The kept shrunk photos' live counters (for `/metrics`).
pub fn counters() -> CacheCounters {
    kept().counters()
}

/// Draws `node` at `transform` onto `canvas` if it has the shape this module draws (see the
/// module docs); `false` if it left it to resvg.
pub(super) fn draw(node: &usvg::Node, transform: Transform, canvas: &mut PixmapMut) -> bool {
    let Some((image, clips)) = image_in_clips(node) else {
        return false;
    };
    if !image.is_visible() {
        return false;
    }
    let at = transform.pre_concat(image.abs_transform());
    let drawn = match image.kind() {
        usvg::ImageKind::SVG(tree) => vector(tree, at, canvas.width(), canvas.height()),
        kind => raster(kind, at, image.rendering_mode()),
    };
    let Some((x, y, pixels)) = drawn else {
        return false;
    };
    let Some(mask) = clip_mask(&clips, transform, canvas.width(), canvas.height()) else {
        return false;
    };
    let paint = PixmapPaint::default();
    canvas.draw_pixmap(
        x,
        y,
        (*pixels).as_ref(),
        &paint,
        Transform::identity(),
        mask.as_ref(),
    );
    true
}

/// A raster image at `at`, shrunk to its size on the canvas (kept, or made and kept), and
/// where it goes: `None` unless it is drawn smoothly, shrunk (or at its size) along the axes,
/// and decodes.
fn raster(
    kind: &usvg::ImageKind,
    at: Transform,
    mode: usvg::ImageRendering,
) -> Option<(i32, i32, Arc<Pixmap>)> {
    let upright = at.kx == 0.0 && at.ky == 0.0 && at.sx > 0.0 && at.sy > 0.0;
    let smooth = !matches!(
        mode,
        usvg::ImageRendering::OptimizeSpeed
            | usvg::ImageRendering::CrispEdges
            | usvg::ImageRendering::Pixelated
    );
    if !upright || at.sx > 1.0 || at.sy > 1.0 || !smooth {
        return None;
    }
    let bytes = match kind {
        usvg::ImageKind::JPEG(bytes)
        | usvg::ImageKind::PNG(bytes)
        | usvg::ImageKind::WEBP(bytes) => bytes,
        usvg::ImageKind::GIF(_) | usvg::ImageKind::SVG(_) => return None,
    };
    // The header's size is the decoded size (neither resvg nor vellum turns photos by EXIF).
    let header = imagesize::blob_size(bytes).ok()?;
    let (own_width, own_height) = (
        u32::try_from(header.width).ok()?,
        u32::try_from(header.height).ok()?,
    );
    let size = |side: u32, scale: f32| ((side as f32 * scale).round() as u32).clamp(1, side.max(1));
    let (width, height) = (size(own_width, at.sx), size(own_height, at.sy));
    let key = (blake3::hash(bytes), width, height);
    let shrunk = match kept().get(&key) {
        Some(Shrunk(pixels)) => pixels,
        None => {
            let decoded = decode(kind)?;
            if (decoded.width(), decoded.height()) != (own_width, own_height) {
                return None;
            }
            let pixels = Arc::new(if (width, height) == (own_width, own_height) {
                decoded
            } else {
                shrink(&decoded, width, height)?
            });
            kept().insert(key, Shrunk(pixels.clone()));
            pixels
        }
    };
    Some((at.tx.round() as i32, at.ty.round() as i32, shrunk))
}

/// An SVG image at `at`, drawn by resvg onto a pixmap of its own box on a `width` x `height`
/// canvas (resvg draws it onto one of the whole canvas: 16 MiB for the certificate's mark at
/// scale 2), and where that goes: moved by whole pixels, it draws the same pixels.
fn vector(
    tree: &usvg::Tree,
    at: Transform,
    width: u32,
    height: u32,
) -> Option<(i32, i32, Arc<Pixmap>)> {
    let bbox = tree
        .root()
        .abs_layer_bounding_box()
        .to_rect()
        .transform(at)?;
    // A pixel more each side for anti-aliasing, within the canvas.
    let left = (bbox.left().floor() as i32 - 1).max(0);
    let top = (bbox.top().floor() as i32 - 1).max(0);
    let right = (bbox.right().ceil() as i32 + 1).min(width as i32);
    let bottom = (bbox.bottom().ceil() as i32 + 1).min(height as i32);
    let mut pixmap = Pixmap::new(
        u32::try_from(right - left).ok()?,
        u32::try_from(bottom - top).ok()?,
    )?;
    let shifted = Transform::from_translate(-left as f32, -top as f32).pre_concat(at);
    resvg::render(tree, shifted, &mut pixmap.as_mut());
    Some((left, top, Arc::new(pixmap)))
}

/// A group's clip: its one path, the clip path, and the group's transform.
type Clip<'a> = (&'a usvg::Path, &'a usvg::ClipPath, Transform);

/// The image `node` is, or holds through groups of full opacity without masks or filters,
/// one inside the other, each clipped by at most one filled path; and each group's clip.
fn image_in_clips(node: &usvg::Node) -> Option<(&usvg::Image, Vec<Clip<'_>>)> {
    let mut node = node;
    let mut clips = Vec::new();
    loop {
        match node {
            usvg::Node::Image(image) => return Some((image, clips)),
            usvg::Node::Group(group) => {
                let plain = group.opacity() == usvg::Opacity::ONE
                    && group.mask().is_none()
                    && group.filters().is_empty()
                    && group.blend_mode() == usvg::BlendMode::Normal;
                if !plain {
                    return None;
                }
                if let Some(clip) = group.clip_path() {
                    let [usvg::Node::Path(path)] = clip.root().children() else {
                        return None;
                    };
                    let filled = path.is_visible() && path.fill().is_some();
                    if clip.clip_path().is_some() || !filled {
                        return None;
                    }
                    clips.push((path.as_ref(), clip, group.abs_transform()));
                }
                let [child] = group.children() else {
                    return None;
                };
                node = child;
            }
            _ => return None,
        }
    }
}

/// The coverage of every clip in `clips` at `transform` on a `width` x `height` canvas, as
/// resvg clips (each clip's path filled with its rule, anti-aliased unless it says not):
/// `Some(None)` when there is no clip, `None` if no mask of that size can be made.
fn clip_mask(
    clips: &[Clip],
    transform: Transform,
    width: u32,
    height: u32,
) -> Option<Option<Mask>> {
    let mut mask: Option<Mask> = None;
    for (path, clip, group) in clips {
        let rule = match path.fill().map(usvg::Fill::rule) {
            Some(usvg::FillRule::EvenOdd) => FillRule::EvenOdd,
            _ => FillRule::Winding,
        };
        let at = transform.pre_concat(*group).pre_concat(clip.transform());
        let anti_alias = path.rendering_mode().use_shape_antialiasing();
        match mask.as_mut() {
            Some(mask) => mask.intersect_path(path.data(), rule, anti_alias, at),
            None => {
                let mut first = Mask::new(width, height)?;
                first.fill_path(path.data(), rule, anti_alias, at);
                mask = Some(first);
            }
        }
    }
    Some(mask)
}

/// The premultiplied pixels of a JPEG, PNG or WebP image (`None` for others, and for bytes
/// that do not decode, which resvg then skips).
fn decode(kind: &usvg::ImageKind) -> Option<Pixmap> {
    match kind {
        usvg::ImageKind::JPEG(data) => {
            use zune_jpeg::zune_core::{colorspace::ColorSpace, options::DecoderOptions};
            let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGBA);
            let mut decoder =
                zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(&data[..]), options);
            decoder.decode_headers().ok()?;
            if decoder.output_colorspace()? != ColorSpace::RGBA {
                return None;
            }
            let rgba = decoder.decode().ok()?;
            let info = decoder.info()?;
            let size = IntSize::from_wh(u32::from(info.width), u32::from(info.height))?;
            Pixmap::from_vec(rgba, size)
        }
        usvg::ImageKind::PNG(data) => Pixmap::decode_png(data).ok(),
        usvg::ImageKind::WEBP(data) => {
            let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&data[..])).ok()?;
            let mut pixels = vec![0; decoder.output_buffer_size()?];
            decoder.read_image(&mut pixels).ok()?;
            let (width, height) = decoder.dimensions();
            let channels = if decoder.has_alpha() { 4 } else { 3 };
            let mut pixmap = Pixmap::new(width, height)?;
            for (p, s) in (pixmap.pixels_mut().iter_mut()).zip(pixels.chunks_exact(channels)) {
                let alpha = if channels == 4 { s[3] } else { 255 };
                *p = tiny_skia::ColorU8::from_rgba(s[0], s[1], s[2], alpha).premultiply();
            }
            Some(pixmap)
        }
        usvg::ImageKind::GIF(_) | usvg::ImageKind::SVG(_) => None,
    }
}

/// Fixed-point weights, which sum to this for each output pixel: a row merged from rows of
/// bytes then fits 16-bit lanes, which the vector units of every x86-64 multiply.
const ONE: u16 = 1 << 8;

/// `src` shrunk to `width` x `height` (each at most `src`'s), each pixel the average of the
/// source area it covers (premultiplied, so edges against transparency stay clean). Rows are
/// merged first, whole rows at a time, then pixels along each merged row.
fn shrink(src: &Pixmap, width: u32, height: u32) -> Option<Pixmap> {
    let src_row = src.width() as usize * 4;
    let columns = spans(src.width() as usize, width as usize);
    let rows = spans(src.height() as usize, height as usize);
    let mut out = Pixmap::new(width, height)?;
    let out_row = width as usize * 4;
    // One merged row: each byte times 256, at most 255 x 256.
    let mut merged = vec![0u16; src_row];
    for (span, line) in rows.iter().zip(out.data_mut().chunks_exact_mut(out_row)) {
        merged.fill(0);
        for (i, &w) in span.weights.iter().enumerate() {
            let from = &src.data()[(span.first + i) * src_row..][..src_row];
            for (sum, &v) in merged.iter_mut().zip(from) {
                *sum += w * u16::from(v);
            }
        }
        for (span, px) in columns.iter().zip(line.chunks_exact_mut(4)) {
            let mut sum = [0u32; 4];
            let from = &merged[span.first * 4..][..span.weights.len() * 4];
            for (&w, m) in span.weights.iter().zip(from.chunks_exact(4)) {
                for c in 0..4 {
                    sum[c] += u32::from(w) * u32::from(m[c]);
                }
            }
            // 8 bits of weight twice.
            let value = |c: usize| ((sum[c] + (1 << 15)) >> 16).min(255) as u8;
            let alpha = value(3);
            // Premultiplied colour never exceeds alpha; rounding apart, averaging keeps it so.
            px.copy_from_slice(&[
                value(0).min(alpha),
                value(1).min(alpha),
                value(2).min(alpha),
                alpha,
            ]);
        }
    }
    Some(out)
}

/// The source pixels one output pixel covers: the first, and the weight of each (of [`ONE`]).
struct Span {
    first: usize,
    weights: Vec<u16>,
}

/// For each of `to` output pixels along a side of `from` source pixels, the source pixels
/// it covers and how much of each.
fn spans(from: usize, to: usize) -> Vec<Span> {
    let ratio = from as f64 / to as f64;
    (0..to)
        .map(|i| {
            let (start, end) = (i as f64 * ratio, ((i + 1) as f64 * ratio).min(from as f64));
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).clamp(first + 1, from);
            // Cumulative rounding, so that the weights sum to exactly ONE.
            let at = |x: f64| ((x - start) / (end - start) * f64::from(ONE)).round() as u16;
            let weights = (first..last)
                .map(|j| at((j as f64 + 1.0).min(end)) - at((j as f64).max(start)))
                .collect();
            Span { first, weights }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// A smooth `size` x `size` photo, or one of 1 px black and white rings if `rings`.
    fn photo(size: u32, rings: bool) -> Pixmap {
        let mut pixmap = Pixmap::new(size, size).unwrap();
        for (i, p) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = ((i as u32 % size) as f32, (i as u32 / size) as f32);
            let rgb = if rings {
                let v = if ((x - 300.0).hypot(y - 300.0) as u32).is_multiple_of(2) {
                    0
                } else {
                    255
                };
                [v, v, v]
            } else {
                let s = size as f32;
                [(x / s * 255.0) as u8, (y / s * 255.0) as u8, 120]
            };
            *p = tiny_skia::ColorU8::from_rgba(rgb[0], rgb[1], rgb[2], 255).premultiply();
        }
        pixmap
    }

    /// A 400 x 300 canvas with `photo` as a PNG in an `<image>` with `attributes`.
    fn card(photo: &Pixmap, attributes: &str) -> usvg::Tree {
        let png = base64::engine::general_purpose::STANDARD.encode(photo.encode_png().unwrap());
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"300\">\
             <clipPath id=\"round\"><rect x=\"20\" y=\"20\" width=\"220\" height=\"240\" rx=\"24\"/>\
             </clipPath><rect width=\"400\" height=\"300\" fill=\"#eee\"/>\
             <image href=\"data:image/png;base64,{png}\" {attributes}/></svg>"
        );
        usvg::Tree::from_str(&svg, &usvg::Options::default()).unwrap()
    }

    const CLIPPED: &str = "x=\"20\" y=\"20\" width=\"220\" height=\"240\" \
                           preserveAspectRatio=\"xMidYMid slice\" clip-path=\"url(#round)\"";

    /// The canvas with the tree's nodes drawn, the image by this module if `here`.
    fn drawn(tree: &usvg::Tree, here: bool) -> (Pixmap, bool) {
        let mut canvas = Pixmap::new(400, 300).unwrap();
        let mut took = false;
        for node in tree.root().children() {
            if here && draw(node, Transform::default(), &mut canvas.as_mut()) {
                took = true;
                continue;
            }
            let bbox = node.abs_layer_bounding_box().unwrap();
            let at = Transform::from_translate(bbox.x(), bbox.y());
            resvg::render_node(node, at, &mut canvas.as_mut());
        }
        (canvas, took)
    }

    fn mean_difference(a: &Pixmap, b: &Pixmap) -> f64 {
        let sum: u64 = (a.data().iter().zip(b.data()))
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        sum as f64 / a.data().len() as f64
    }

    #[test]
    fn spans_cover_every_source_pixel_once() {
        for (from, to) in [(1200, 550), (7, 3), (640, 640), (1000, 1), (3, 2)] {
            let spans = spans(from, to);
            let mut covered = vec![0u32; from];
            for span in &spans {
                assert_eq!(span.weights.iter().sum::<u16>(), ONE, "{from} to {to}");
                for (i, w) in span.weights.iter().enumerate() {
                    covered[span.first + i] += u32::from(*w);
                }
            }
            // Each source pixel gives the same share in all: to / from of ONE.
            let share = f64::from(ONE) * to as f64 / from as f64;
            for c in covered {
                assert!(
                    (f64::from(c) - share).abs() <= 2.0,
                    "{from} to {to}: {c} vs {share}"
                );
            }
        }
    }

    #[test]
    fn fine_detail_shrinks_to_its_average_not_to_moire() {
        let mut stripes = Pixmap::new(300, 300).unwrap();
        for (i, p) in stripes.pixels_mut().iter_mut().enumerate() {
            let v = if i % 2 == 0 { 0 } else { 255 };
            *p = tiny_skia::ColorU8::from_rgba(v, v, v, 255).premultiply();
        }
        // Halved, each pixel covers one black and one white column.
        for p in shrink(&stripes, 150, 120).unwrap().pixels() {
            assert!(p.red().abs_diff(128) <= 1 && p.alpha() == 255, "{p:?}");
        }
        // Shrunk 2.19 times, each covers a little more of one colour than of the other;
        // sampling (what aliases) would give black or white.
        for p in shrink(&stripes, 137, 120).unwrap().pixels() {
            assert!((110..=146).contains(&p.red()), "{p:?}");
        }
    }

    #[test]
    fn a_clipped_photo_is_drawn_here_like_resvg_draws_it() {
        let tree = card(&photo(600, false), CLIPPED);
        let (ours, took) = drawn(&tree, true);
        assert!(took, "the clipped, shrunk photo is drawn here");
        let (theirs, _) = drawn(&tree, false);
        let difference = mean_difference(&ours, &theirs);
        assert!(difference < 1.0, "mean difference {difference}");
        // The rounded corner is clipped away as resvg clips it.
        for (x, y) in [(21, 21), (30, 250), (120, 140), (300, 150)] {
            let (a, b) = (ours.pixel(x, y).unwrap(), theirs.pixel(x, y).unwrap());
            let close = |p: u8, q: u8| p.abs_diff(q) <= 6;
            assert!(
                close(a.red(), b.red())
                    && close(a.green(), b.green())
                    && close(a.alpha(), b.alpha()),
                "({x}, {y}): {a:?} against {b:?}"
            );
        }
    }

    #[test]
    fn a_photo_drawn_again_at_its_size_is_taken_from_the_kept_copy() {
        let tree = card(&photo(512, false), CLIPPED);
        let first = drawn(&tree, true).0;
        let hits = kept().stats().hits;
        let again = drawn(&tree, true).0;
        assert!(
            kept().stats().hits > hits,
            "the second card took the kept copy"
        );
        assert!(first == again);
    }

    #[test]
    fn rings_shrunk_here_alias_less_than_resvg_draws_them() {
        // A fine pattern shrunk 2.5 times: the average is mid grey; aliasing strays from it.
        let tree = card(&photo(600, true), CLIPPED);
        let (ours, took) = drawn(&tree, true);
        assert!(took);
        let (theirs, _) = drawn(&tree, false);
        let stray = |p: &Pixmap| -> f64 {
            let inside = (60..220).flat_map(|y| (60..200).map(move |x| (x, y)));
            let sum: u32 = inside
                .map(|(x, y)| u32::from(p.pixel(x, y).unwrap().red().abs_diff(128)))
                .sum();
            f64::from(sum) / (160.0 * 140.0)
        };
        assert!(
            stray(&ours) < stray(&theirs) / 2.0,
            "{} against {}",
            stray(&ours),
            stray(&theirs)
        );
    }

    #[test]
    fn an_svg_image_is_drawn_on_a_pixmap_of_its_box_as_resvg_draws_it() {
        let mark = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\">\
                    <circle cx=\"32\" cy=\"32\" r=\"30\" fill=\"#c60\" stroke=\"#222\"/></svg>";
        let mark = base64::engine::general_purpose::STANDARD.encode(mark);
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"300\">\
             <rect width=\"400\" height=\"300\" fill=\"#eee\"/><image \
             href=\"data:image/svg+xml;base64,{mark}\" x=\"172.5\" y=\"84\" width=\"56\" height=\"56\"/></svg>"
        );
        let tree = usvg::Tree::from_str(&svg, &usvg::Options::default()).unwrap();
        let (ours, took) = drawn(&tree, true);
        assert!(took, "the mark is drawn here");
        assert!(
            ours == drawn(&tree, false).0,
            "pixel for pixel as resvg draws it"
        );
        let usvg::Node::Group(group) = &tree.root().children()[1] else {
            panic!("the image's group")
        };
        let [usvg::Node::Image(image)] = group.children() else {
            panic!("the image")
        };
        let usvg::ImageKind::SVG(mark) = image.kind() else {
            panic!("an SVG image")
        };
        let (_, _, pixmap) = vector(mark, image.abs_transform(), 400, 300).unwrap();
        assert!(
            pixmap.width() <= 60 && pixmap.height() <= 60,
            "{}x{}",
            pixmap.width(),
            pixmap.height()
        );
    }

    #[test]
    fn what_this_module_does_not_draw_is_left_to_resvg() {
        let smooth = photo(600, false);
        for attributes in [
            // Enlarged, turned, sharp-edged, half transparent.
            "x=\"0\" y=\"0\" width=\"1200\" height=\"1200\"".to_string(),
            format!("{CLIPPED} transform=\"rotate(10)\""),
            format!("{CLIPPED} image-rendering=\"optimizeSpeed\""),
            format!("{CLIPPED} opacity=\"0.5\""),
        ] {
            let tree = card(&smooth, &attributes);
            assert!(!drawn(&tree, true).1, "{attributes}");
        }
        assert!(drawn(&card(&smooth, CLIPPED), true).1);
    }
}
