//! Photos drawn at the size they take on the canvas: decoded (into buffers kept for the next
//! photo, [`DECODED_BUDGET`]), shrunk by area ([`super::shrink`]), and copied onto the
//! canvas through their clip paths. resvg samples a shrunk photo with a bicubic filter at
//! every canvas pixel: that was about 40% of a product card with a 1200 px photo (such
//! cards render about 1.5x as fast drawn here, README), and it aliases.
//!
//! Shrunk photos are kept (by their bytes' hash and their size on the canvas) within
//! [`SHRUNK_BUDGET`]: the same author's avatar on every post card is decoded once.
//!
//! Only the common shape is drawn here: a JPEG, PNG or WebP image, shrunk (or at its size)
//! along the axes, smoothly rendered, in groups of full opacity without masks or filters,
//! each clipped by at most one path. Anything else is resvg's. An SVG image in such groups
//! is drawn by resvg onto a pixmap of its own size rather than of the canvas's.

use std::sync::{Arc, Mutex, OnceLock};

use tiny_skia::{FillRule, IntRect, IntSize, Mask, Pixmap, PixmapMut, PixmapPaint, Transform};

use super::blend::over;
use super::shrink::shrink;
use crate::cache::{ByteCache, CacheCounters, Weigh};

/// Bytes of shrunk photos kept (a 64 px avatar is 16 KB, a 550 px photo 1.2 MB).
pub const SHRUNK_BUDGET: usize = 8 * 1024 * 1024;

/// Bytes of decoded photos' pixel buffers kept for the next photo to decode into (two 1200 x
/// 1200 photos'): a new buffer cost such a card 2 ms of page faults.
pub const DECODED_BUDGET: usize = 12 * 1024 * 1024;

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

/// Pixel buffers left by photos decoded and shrunk, for the next photo to decode into.
#[derive(Default)]
struct Spare(Mutex<Vec<Vec<u8>>>);

impl Spare {
    /// A buffer of `len` bytes: a spare one if any (zeroed only where it grows).
    fn take(&self, len: usize) -> Vec<u8> {
        let mut buffer = self.lock().pop().unwrap_or_default();
        buffer.resize(len, 0);
        buffer
    }

    /// Keeps `buffer` if the spare buffers stay within [`DECODED_BUDGET`].
    fn give_back(&self, buffer: Vec<u8>) {
        let mut spare = self.lock();
        let held: usize = spare.iter().map(Vec::capacity).sum();
        if held + buffer.capacity() <= DECODED_BUDGET {
            spare.push(buffer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The spare buffers every engine in the process decodes into.
fn spare() -> &'static Spare {
    static SPARE: Spare = Spare(Mutex::new(Vec::new()));
    &SPARE
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
    if let usvg::ImageKind::SVG(tree) = image.kind() {
        let Some((x, y, pixels)) = vector(tree, at, canvas.width(), canvas.height()) else {
            return false;
        };
        let Some(mask) = clip_mask(&clips, transform, (0, 0), canvas.width(), canvas.height())
        else {
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
        return true;
    }
    let Some((x, y, pixels)) = raster(image.kind(), at, image.rendering_mode()) else {
        return false;
    };
    let Some(area) = on_canvas((x, y), &pixels, canvas) else {
        return true; // nothing of it on the canvas
    };
    let origin = (area.x(), area.y());
    let Some(mask) = clip_mask(&clips, transform, origin, area.width(), area.height()) else {
        return false;
    };
    composite(canvas, (x, y), &pixels, area, mask.as_ref());
    true
}

/// The part of the canvas that `pixels`, with its top left corner at `at`, covers.
fn on_canvas(at: (i32, i32), pixels: &Pixmap, canvas: &PixmapMut) -> Option<IntRect> {
    let bounds = IntRect::from_xywh(0, 0, canvas.width(), canvas.height())?;
    IntRect::from_xywh(at.0, at.1, pixels.width(), pixels.height())?.intersect(&bounds)
}

/// Draws premultiplied `pixels` with its top left corner at `at` onto `area` of `canvas`
/// (source over; `area` within both), through `mask`, the coverage of `area`, if any. Most
/// of a photo is opaque pixels copied; tiny-skia's pattern pipeline, which drew it before,
/// was 9% of a product card with a new 1200 px photo (perf).
fn composite(
    canvas: &mut PixmapMut,
    at: (i32, i32),
    pixels: &Pixmap,
    area: IntRect,
    mask: Option<&Mask>,
) {
    let canvas_row = canvas.width() as usize * 4;
    let (photo_row, area_width) = (pixels.width() as usize * 4, area.width() as usize);
    let columns = area.left() as usize * 4..area.right() as usize * 4;
    // The same columns in the photo's rows.
    let inside = (area.left() - at.0) as usize * 4..(area.right() - at.0) as usize * 4;
    let data = canvas.data_mut();
    for (i, y) in (area.top()..area.bottom()).enumerate() {
        let line = y as usize * canvas_row;
        let dst = &mut data[line + columns.start..line + columns.end];
        let src = &pixels.data()[(y - at.1) as usize * photo_row..][inside.clone()];
        let pairs = dst.chunks_exact_mut(4).zip(src.chunks_exact(4));
        match mask {
            None => pairs.for_each(|(d, s)| over(d, s, 255)),
            Some(mask) => {
                let cover = &mask.data()[i * area_width..][..area_width];
                pairs.zip(cover).for_each(|((d, s), &c)| over(d, s, c));
            }
        }
    }
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
                spare().give_back(decoded.take());
                return None;
            }
            let pixels = Arc::new(if (width, height) == (own_width, own_height) {
                decoded
            } else {
                let shrunk = shrink(&decoded, width, height);
                spare().give_back(decoded.take());
                shrunk?
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

/// The coverage of every clip in `clips` at `transform` over the `width` x `height` box of
/// the canvas whose top left corner is at `origin`, as resvg clips (each clip's path filled
/// with its rule, anti-aliased unless it says not): `Some(None)` when there is no clip,
/// `None` if no mask of that size can be made.
fn clip_mask(
    clips: &[Clip],
    transform: Transform,
    origin: (i32, i32),
    width: u32,
    height: u32,
) -> Option<Option<Mask>> {
    let shift = Transform::from_translate(-origin.0 as f32, -origin.1 as f32);
    let mut mask: Option<Mask> = None;
    for (path, clip, group) in clips {
        let rule = match path.fill().map(usvg::Fill::rule) {
            Some(usvg::FillRule::EvenOdd) => FillRule::EvenOdd,
            _ => FillRule::Winding,
        };
        let at = shift
            .pre_concat(transform)
            .pre_concat(*group)
            .pre_concat(clip.transform());
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
/// that do not decode, which resvg then skips). JPEG and WebP decode into spare buffers.
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
            let info = decoder.info()?;
            let size = IntSize::from_wh(u32::from(info.width), u32::from(info.height))?;
            let mut rgba = spare().take(decoder.output_buffer_size()?);
            let decoded = decoder.decode_into(&mut rgba).is_ok();
            pixmap_of(rgba, size, decoded)
        }
        usvg::ImageKind::PNG(data) => Pixmap::decode_png(data).ok(),
        usvg::ImageKind::WEBP(data) => {
            let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&data[..])).ok()?;
            let (width, height) = decoder.dimensions();
            let size = IntSize::from_wh(width, height)?;
            let mut pixels = spare().take(decoder.output_buffer_size()?);
            if decoder.read_image(&mut pixels).is_err() {
                spare().give_back(pixels);
                return None;
            }
            let mut rgba = if decoder.has_alpha() {
                pixels
            } else {
                let mut rgba = spare().take(pixels.len() / 3 * 4);
                for (p, s) in rgba.chunks_exact_mut(4).zip(pixels.chunks_exact(3)) {
                    p.copy_from_slice(&[s[0], s[1], s[2], 255]);
                }
                spare().give_back(pixels);
                rgba
            };
            for p in rgba.chunks_exact_mut(4) {
                let c = tiny_skia::ColorU8::from_rgba(p[0], p[1], p[2], p[3]).premultiply();
                p.copy_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
            }
            pixmap_of(rgba, size, true)
        }
        usvg::ImageKind::GIF(_) | usvg::ImageKind::SVG(_) => None,
    }
}

/// `rgba` as a pixmap of `size` if it `decoded` whole, else given back to the spare buffers.
fn pixmap_of(rgba: Vec<u8>, size: IntSize, decoded: bool) -> Option<Pixmap> {
    let whole = decoded && rgba.len() == size.width() as usize * size.height() as usize * 4;
    if !whole {
        spare().give_back(rgba);
        return None;
    }
    Pixmap::from_vec(rgba, size)
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
    fn composite_draws_source_over_through_the_mask_and_off_the_canvas_edge() {
        // Half-transparent red (premultiplied), 4 x 3, over grey, at (-1, 1) on a 3 x 3
        // canvas, through a mask whose coverage grows along each row.
        let mut src = Pixmap::new(4, 3).unwrap();
        src.fill(tiny_skia::Color::from_rgba8(255, 0, 0, 128));
        let mut canvas = Pixmap::new(3, 3).unwrap();
        canvas.fill(tiny_skia::Color::from_rgba8(100, 100, 100, 255));
        let area = on_canvas((-1, 1), &src, &canvas.as_mut()).unwrap();
        assert_eq!(area, IntRect::from_xywh(0, 1, 3, 2).unwrap());
        let mut mask = Mask::new(3, 2).unwrap();
        for (i, c) in mask.data_mut().iter_mut().enumerate() {
            *c = [64, 200, 255][i % 3];
        }
        composite(&mut canvas.as_mut(), (-1, 1), &src, area, Some(&mask));
        let s = src.pixel(0, 0).unwrap();
        for y in 0..3 {
            for x in 0..3 {
                let p = canvas.pixel(x, y).unwrap();
                let coverage = if y == 0 {
                    0.0
                } else {
                    [64.0, 200.0, 255.0][x as usize] / 255.0
                };
                let alpha = f64::from(s.alpha()) / 255.0 * coverage;
                let expect = |c: u8, d: f64| f64::from(c) * coverage + d * (1.0 - alpha);
                let near = |got: u8, want: f64| (f64::from(got) - want).abs() <= 1.0;
                assert!(
                    near(p.red(), expect(s.red(), 100.0))
                        && near(p.green(), expect(0, 100.0))
                        && p.alpha() == 255,
                    "({x}, {y}): {p:?}"
                );
            }
        }
        // An opaque source without a mask is copied as it is.
        let mut opaque = Pixmap::new(2, 2).unwrap();
        opaque.fill(tiny_skia::Color::from_rgba8(10, 20, 30, 255));
        let beside = canvas.pixel(1, 2).unwrap();
        let area = on_canvas((2, 2), &opaque, &canvas.as_mut()).unwrap();
        composite(&mut canvas.as_mut(), (2, 2), &opaque, area, None);
        assert!(on_canvas((3, 0), &opaque, &canvas.as_mut()).is_none());
        assert_eq!(canvas.pixel(2, 2).unwrap(), opaque.pixel(0, 0).unwrap());
        assert_eq!(canvas.pixel(1, 2).unwrap(), beside);
    }

    #[test]
    fn webp_photos_decode_to_premultiplied_pixels_with_and_without_alpha() {
        let (width, height) = (5u32, 3u32);
        let rgba: Vec<u8> = (0..width * height)
            .flat_map(|i| [(i * 17) as u8, (i * 5) as u8, 200, (i * 16 + 15) as u8])
            .collect();
        for (color, channels) in [
            (image_webp::ColorType::Rgba8, 4),
            (image_webp::ColorType::Rgb8, 3),
        ] {
            let source: Vec<u8> = (rgba.chunks_exact(4))
                .flat_map(|p| p[..channels].to_vec())
                .collect();
            let mut file = Vec::new();
            (image_webp::WebPEncoder::new(&mut file))
                .encode(&source, width, height, color)
                .unwrap();
            let decoded = decode(&usvg::ImageKind::WEBP(Arc::new(file))).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (width, height));
            for (got, p) in decoded.pixels().iter().zip(rgba.chunks_exact(4)) {
                let alpha = if channels == 4 { p[3] } else { 255 };
                let want = tiny_skia::ColorU8::from_rgba(p[0], p[1], p[2], alpha).premultiply();
                assert_eq!(*got, want, "{channels} channels");
            }
        }
        assert!(
            decode(&usvg::ImageKind::WEBP(Arc::new(
                b"RIFF....WEBPVP8L".to_vec()
            )))
            .is_none()
        );
        let cut = usvg::ImageKind::JPEG(Arc::new(vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0]));
        assert!(decode(&cut).is_none(), "a cut JPEG decodes to nothing");
    }

    #[test]
    fn spare_buffers_stay_within_their_budget() {
        let spare = Spare::default();
        let photo = 1200 * 1200 * 4;
        spare.give_back(spare.take(photo));
        spare.give_back(spare.take(photo));
        assert_eq!(spare.lock().len(), 1, "the first buffer was taken again");
        let (a, b, c) = (spare.take(photo), spare.take(photo), spare.take(photo));
        assert_eq!(a.len(), photo);
        for buffer in [a, b, c] {
            spare.give_back(buffer);
        }
        assert_eq!(
            spare.lock().len(),
            2,
            "two 5.8 MB buffers fit in 12 MiB, not three"
        );
        spare.give_back(vec![0; DECODED_BUDGET]);
        assert_eq!(spare.lock().len(), 2);
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
