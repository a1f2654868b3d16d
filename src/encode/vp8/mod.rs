//! Lossy WebP of opaque images, written by the project: a VP8 key frame whose macroblocks are
//! coded in bands that depend on nothing above them ([`band`]), so a background's bands are
//! coded once and an image drawn over it codes only the bands its drawing changed, the way
//! PNG blocks and JPEG pieces are reused. libwebp cannot do that (VP8 has no restart points
//! of its own), and at its fastest took twice a whole card's PNG render.
//!
//! The encoder is simple: whole-block prediction modes picked by squared error, libwebp's
//! quantizer rounding, token probabilities from the bands' counts, one quantizer for the
//! frame; its files are 1.3-1.4x libwebp's (README). A file depends only on the pixels and
//! the quality, whether its bands were coded now or reused.

mod band;
mod bool_writer;
mod frame;
mod macroblock;
mod tables;
mod tokens;
mod transform;

use std::ops::Range;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use tiny_skia::Pixmap;

use band::Band;
use macroblock::Quant;

/// The widest and tallest image VP8 can hold.
const MAX_SIDE: u32 = 16383;

/// A background's bands at one quality, coded once for every image drawn over it, and the
/// bands last coded over it (the rows a card's fixed fields are drawn on, such as an author
/// line after its title, are often those of the card before).
pub(super) struct Bands {
    quality: u8,
    bands: Vec<Band>,
    slots: Mutex<Vec<Slot>>,
}

/// What a band's rows last held over a background: the band last coded there, and how many
/// cards in a row have drawn something else there since.
#[derive(Default)]
struct Slot {
    last: Option<Last>,
    misses: u32,
}

/// A band coded over a background, and the hash of the pixels it coded (a hash, not the
/// pixels: a background's cache weight does not grow with the cards drawn over it).
struct Last {
    hash: blake3::Hash,
    band: Arc<Band>,
}

/// Cards in a row that drew something new in a band before it is coded without hashing its
/// pixels: a band that holds a title changes with every card, and hashing it (about 0.1 ms
/// a band in the server) would be wasted.
const MISSES_BEFORE_SKIPPING: u32 = 3;
/// A skipped band is still hashed (and kept) every this many cards, in case its rows
/// settle.
const HASH_EVERY: u32 = 8;

impl Bands {
    /// Codes every band of opaque `pixmap` at `quality`.
    pub(super) fn new(pixmap: &Pixmap, quality: u8) -> Result<Bands, String> {
        check_size(pixmap)?;
        let quant = Quant::new(quant_index(quality));
        let bands = (0..band::bands(pixmap.height()))
            .into_par_iter()
            .map(|b| band::code(pixmap, b, &quant, None))
            .collect::<Vec<_>>();
        let slots = Mutex::new(bands.iter().map(|_| Slot::default()).collect());
        Ok(Bands {
            quality,
            bands,
            slots,
        })
    }

    /// Bytes held: the background's bands and those last coded over it.
    pub(super) fn bytes(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let kept = (slots.iter().flat_map(|slot| &slot.last)).map(|last| last.band.bytes());
        self.bands.iter().map(Band::bytes).chain(kept).sum()
    }
}

/// The background an image was drawn over: its pixels, the rows the drawing may have
/// changed, and its bands at the image's quality.
pub(super) struct Under<'a> {
    pub(super) pixels: &'a Pixmap,
    pub(super) changed: &'a [Range<u32>],
    pub(super) bands: &'a Bands,
}

/// Lossy WebP of opaque premultiplied `pixmap` at `quality` (1 to 100) into `out`.
pub(super) fn webp(
    pixmap: &Pixmap,
    quality: u8,
    under: Option<Under>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    check_size(pixmap)?;
    let quant = Quant::new(quant_index(quality));
    let under = under.filter(|u| {
        u.bands.quality == quality
            && u.pixels.width() == pixmap.width()
            && u.pixels.height() == pixmap.height()
    });
    let taken: Vec<Taken> = (0..band::bands(pixmap.height()))
        .into_par_iter()
        .map(|b| take(pixmap, b, &quant, under.as_ref()))
        .collect();
    let bands: Vec<&Band> = taken.iter().map(Taken::band).collect();
    frame::Frame {
        width: pixmap.width(),
        height: pixmap.height(),
        quant: &quant,
        bands: &bands,
    }
    .write(out);
    Ok(())
}

/// A band an image takes: the background's, or one coded over it.
enum Taken<'a> {
    Under(&'a Band),
    Own(Arc<Band>),
}

impl Taken<'_> {
    fn band(&self) -> &Band {
        match self {
            Taken::Under(band) => band,
            Taken::Own(band) => band,
        }
    }
}

/// Band `b` of `pixmap`: the background's where the image holds its pixels, else the band
/// last coded over the background where the image's pixels hash as its did, else coded now
/// (copying the background's macroblocks where it can) and kept as the last. A band that
/// missed on the last few cards is coded without hashing, but for every [`HASH_EVERY`]th.
fn take<'a>(pixmap: &Pixmap, b: usize, quant: &Quant, under: Option<&Under<'a>>) -> Taken<'a> {
    let Some(under) = under else {
        return Taken::Own(Arc::new(band::code(pixmap, b, quant, None)));
    };
    let at = band::pixel_rows(b, pixmap.height());
    if !crate::raster::any_meets(under.changed, at.clone())
        || same_rows(pixmap, under.pixels, at.clone())
    {
        return Taken::Under(&under.bands.bands[b]);
    }
    let slots = || under.bands.slots.lock().unwrap_or_else(|e| e.into_inner());
    let misses = slots()[b].misses;
    let hashed = (misses < MISSES_BEFORE_SKIPPING || misses.is_multiple_of(HASH_EVERY))
        .then(|| blake3::hash(rows_of(pixmap, at)));
    if let Some(hash) = hashed {
        let mut slots = slots();
        if let Some(kept) = slots[b].last.as_ref().filter(|l| l.hash == hash) {
            let band = kept.band.clone();
            slots[b].misses = 0;
            return Taken::Own(band);
        }
    }
    let background = band::Under {
        pixels: under.pixels,
        band: &under.bands.bands[b],
    };
    let band = Arc::new(band::code(pixmap, b, quant, Some(background)));
    let mut slots = slots();
    slots[b].misses = slots[b].misses.saturating_add(1);
    if let Some(hash) = hashed {
        slots[b].last = Some(Last {
            hash,
            band: band.clone(),
        });
    }
    Taken::Own(band)
}

fn check_size(pixmap: &Pixmap) -> Result<(), String> {
    if pixmap.width() > MAX_SIDE || pixmap.height() > MAX_SIDE {
        return Err(format!("lossy WebP holds at most {MAX_SIDE} px per side"));
    }
    Ok(())
}

/// Whether `rows` of two pixmaps of one size hold the same pixels.
fn same_rows(a: &Pixmap, b: &Pixmap, rows: Range<u32>) -> bool {
    rows_of(a, rows.clone()) == rows_of(b, rows)
}

/// The RGBA bytes of `rows` of `pixmap`.
fn rows_of(pixmap: &Pixmap, rows: Range<u32>) -> &[u8] {
    let row = super::pixels::row_bytes(pixmap);
    &pixmap.data()[rows.start as usize * row..rows.end as usize * row]
}

/// The quantizer index for a quality, as libwebp maps it (before its per-segment changes):
/// quality 80 is index 20, 50 is 39, 100 is 0.
fn quant_index(quality: u8) -> u8 {
    let q = f64::from(quality.clamp(1, 100)) / 100.0;
    let linear = if q < 0.75 {
        q * (2.0 / 3.0)
    } else {
        2.0 * q - 1.0
    };
    let compression = linear.cbrt();
    (127.0 * (1.0 - compression)).round().clamp(0.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A card-like image: a diagonal gradient with sharp-edged bars and dots over it.
    fn card(width: u32, height: u32, seed: u32) -> Pixmap {
        let mut pixmap = Pixmap::new(width, height).unwrap();
        for (i, p) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = (i as u32 % width, i as u32 / width);
            let mut rgb = [(x * 255 / width) as u8, (y * 255 / height) as u8, 160];
            let bar =
                (y / 9 + seed).is_multiple_of(5) && (x / 13 + y / 7) % 3 != 0 && y > height / 3;
            if bar || (x * 7 + y * 3 + seed).is_multiple_of(97) {
                rgb = [250, 250, 240];
            }
            *p = tiny_skia::ColorU8::from_rgba(rgb[0], rgb[1], rgb[2], 255).premultiply();
        }
        pixmap
    }

    fn decode(file: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(file)).unwrap();
        let (w, h) = decoder.dimensions();
        let mut rgb = vec![0; decoder.output_buffer_size().unwrap()];
        decoder.read_image(&mut rgb).unwrap();
        (w, h, rgb)
    }

    fn psnr(pixmap: &Pixmap, rgb: &[u8]) -> f64 {
        let mut sum = 0f64;
        for (p, q) in pixmap.data().chunks_exact(4).zip(rgb.chunks_exact(3)) {
            for c in 0..3 {
                let d = f64::from(p[c]) - f64::from(q[c]);
                sum += d * d;
            }
        }
        let mse = sum / (pixmap.width() * pixmap.height() * 3) as f64;
        10.0 * (255.0 * 255.0 / mse).log10()
    }

    /// `pixmap` with a bright box drawn over `rows` and `columns`.
    fn drawn_on(pixmap: &Pixmap, rows: Range<u32>, columns: Range<u32>) -> Pixmap {
        let mut out = pixmap.clone();
        let width = out.width();
        for (i, p) in out.pixels_mut().iter_mut().enumerate() {
            let (x, y) = (i as u32 % width, i as u32 / width);
            if rows.contains(&y) && columns.contains(&x) && (x / 3 + y) % 4 != 0 {
                *p = tiny_skia::ColorU8::from_rgba(255, 255, 255, 255).premultiply();
            }
        }
        out
    }

    #[test]
    fn a_file_over_a_background_is_the_file_coded_whole() {
        let background = card(1200, 630, 3);
        let bands = Bands::new(&background, 80).unwrap();
        let boxes = [
            (100..180, 80..700),
            (31..33, 600..610),
            (0..630, 0..1200),
            (600..630, 1190..1200),
        ];
        // Twice: the second time, the bands last coded over the background are taken again.
        for (rows, columns) in boxes.iter().chain(&boxes) {
            let image = drawn_on(&background, rows.clone(), columns.clone());
            let mut whole = Vec::new();
            webp(&image, 80, None, &mut whole).unwrap();
            for changed in [std::slice::from_ref(rows), crate::raster::EVERY_ROW] {
                let mut over = Vec::new();
                let under = Under {
                    pixels: &background,
                    changed,
                    bands: &bands,
                };
                webp(&image, 80, Some(under), &mut over).unwrap();
                assert!(
                    over == whole,
                    "rows {rows:?}, columns {columns:?}, changed {changed:?}"
                );
            }
        }
        let mut again = Vec::new();
        let under = Under {
            pixels: &background,
            changed: &[],
            bands: &bands,
        };
        webp(&background, 80, Some(under), &mut again).unwrap();
        let mut whole = Vec::new();
        webp(&background, 80, None, &mut whole).unwrap();
        assert!(again == whole);
    }

    #[test]
    fn a_band_new_on_every_card_is_hashed_again_only_every_few_cards() {
        let background = card(320, 256, 3);
        let bands = Bands::new(&background, 80).unwrap();
        let rows = 70..120; // in band 1 (rows 64 to 127) only
        let code = |image: &Pixmap| {
            let mut over = Vec::new();
            let changed = std::slice::from_ref(&rows);
            let under = Under {
                pixels: &background,
                changed,
                bands: &bands,
            };
            webp(image, 80, Some(under), &mut over).unwrap();
            let mut whole = Vec::new();
            webp(image, 80, None, &mut whole).unwrap();
            assert!(over == whole, "a file is the file coded whole");
        };
        let slot = || {
            let slots = bands.slots.lock().unwrap();
            (slots[1].misses, slots[1].last.as_ref().map(|l| l.hash))
        };
        let image = |n: u32| drawn_on(&background, rows.clone(), 10 + n * 9..200);
        // A new box on every card: hashed and kept for the first three cards, then not
        // (what is kept stays the third card's) until the eighth miss.
        for n in 0..3 {
            code(&image(n));
        }
        let (misses, third) = slot();
        assert_eq!(misses, MISSES_BEFORE_SKIPPING);
        for n in 3..8 {
            code(&image(n));
            assert_eq!(slot().1, third, "card {n} was hashed and kept");
        }
        assert_eq!(slot().0, HASH_EVERY);
        code(&image(8));
        let ninth = slot().1;
        assert_ne!(ninth, third, "the ninth card was not hashed");
        // The ninth card's box again and again: found by its hash within a few cards.
        let settled = (0..HASH_EVERY).any(|_| {
            code(&image(8));
            slot().0 == 0
        });
        assert!(settled, "a band that settled is never found");
        assert_eq!(slot().1, ninth);
    }

    #[test]
    fn decoders_read_the_frame_close_to_its_pixels() {
        for (w, h) in [(1200, 630), (37, 21), (16, 16), (1, 1)] {
            let pixmap = card(w, h, 1);
            let mut file = Vec::new();
            webp(&pixmap, 80, None, &mut file).unwrap();
            let (dw, dh, rgb) = decode(&file);
            assert_eq!((dw, dh), (w, h));
            let quality = psnr(&pixmap, &rgb);
            assert!(quality > 30.0, "{w}x{h}: PSNR {quality:.1} dB");
            let libwebp = webp::Decoder::new(&file)
                .decode()
                .expect("libwebp reads it");
            assert_eq!((libwebp.width(), libwebp.height()), (w, h));
            assert_eq!(libwebp.len(), (w * h * 3) as usize, "RGB: no alpha chunk");
            let quality = psnr(&pixmap, &libwebp);
            assert!(
                quality > 30.0,
                "{w}x{h}: PSNR {quality:.1} dB through libwebp"
            );
        }
    }
}
