//! JPEG in pieces: the image cut into bands of [`BAND_ROWS`] rows (whole rows of MCUs), each
//! band into pieces a few MCUs wide, joined after restart markers, which reset the decoder's
//! DC prediction just as a new image starts it. So each piece's bytes depend only on its
//! pixels and the quality: a piece a backdrop already holds is copied (a card's text changes
//! about half of the pieces in the bands it crosses), and pieces are encoded in parallel,
//! without changing the file.
//!
//! Within a piece drawn on, an MCU whose pixels are the backdrop's takes the backdrop's
//! quantized blocks rather than being transformed again (text leaves many MCUs of its bands
//! untouched). That is why the coder is the project's own baseline JPEG ([`blocks`] and
//! [`huffman`], with the standard's tables): jpeg-encoder codes whole images only.

mod blocks;
mod huffman;
mod tables;

use rayon::prelude::*;
use tiny_skia::Pixmap;

use crate::raster::any_meets;
use blocks::Quantizer;
use huffman::{Bits, CHROMA, Coefficients, LUMA};

/// Pixel rows per band: one MCU row at 4:2:0 (qualities under 90), two at 4:4:4.
pub(super) const BAND_ROWS: usize = 16;

/// Pieces are the fewest MCUs from [`MIN_PIECE_MCUS`] to [`MAX_PIECE_MCUS`] that divides a
/// band's MCUs evenly (every piece must hold the restart interval's count); a band with no
/// such divisor, or two MCU rows (4:4:4), is one piece. Each piece costs a restart marker
/// and a DC prediction restarted: post.jpg in pieces of 15 MCUs is 3% larger than encoded
/// whole, in pieces of 5 9% larger.
const MIN_PIECE_MCUS: usize = 8;
/// See [`MIN_PIECE_MCUS`].
const MAX_PIECE_MCUS: usize = 24;

/// One piece's entropy-coded bytes (no markers), and, for a backdrop's, its blocks.
pub(super) struct Piece {
    bytes: Vec<u8>,
    blocks: Option<Blocks>,
}

/// A piece's quantized blocks in scan order, each in zigzag order up to its last nonzero
/// coefficient (a backdrop's blocks are mostly a few coefficients).
#[derive(Default)]
struct Blocks {
    coefficients: Vec<i16>,
    /// Where each block's coefficients end.
    ends: Vec<u32>,
}

impl Blocks {
    fn push(&mut self, block: &Coefficients) {
        let len = block
            .iter()
            .rposition(|&c| c != 0)
            .map_or(0, |last| last + 1);
        self.coefficients.extend_from_slice(&block[..len]);
        self.ends.push(self.coefficients.len() as u32);
    }

    /// Block `i`, its trailing zeros restored.
    fn get(&self, i: usize) -> Coefficients {
        let start = i
            .checked_sub(1)
            .map_or(0, |before| self.ends[before] as usize);
        let stored = &self.coefficients[start..self.ends[i] as usize];
        let mut block = [0; 64];
        block[..stored.len()].copy_from_slice(stored);
        block
    }
}

/// Every piece of an image at one quality, so that an image drawn over it encodes only the
/// pieces it drew on.
pub(super) struct Pieces {
    pieces: Vec<Piece>,
}

impl Pieces {
    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        let blocks = |b: &Blocks| b.coefficients.capacity() * 2 + b.ends.capacity() * 4;
        (self.pieces.iter())
            .map(|p| p.bytes.capacity() + p.blocks.as_ref().map_or(0, blocks))
            .sum::<usize>()
    }
}

/// How an image is cut into pieces, and how they are coded.
struct Cut {
    width: usize,
    height: usize,
    /// Every piece's width but the last in each band (which ends at the image's edge).
    piece_width: usize,
    /// The restart interval: MCUs in a whole piece.
    mcus_per_piece: u16,
    /// 4:2:0 (MCUs of 16x16 pixels) rather than 4:4:4 (8x8).
    subsampled: bool,
    /// The luminance and chrominance quantization tables at the quality, in natural order.
    tables: [[u16; 64]; 2],
    quantizer: Quantizer,
}

/// One piece: its first row and column, and its size in pixels.
#[derive(Debug, Clone, Copy)]
struct Area {
    y: usize,
    x: usize,
    width: usize,
    rows: usize,
}

impl Cut {
    fn new(width: u32, height: u32, quality: u8) -> Result<Cut, String> {
        let (width, height) = (width as usize, height as usize);
        let subsampled = subsampled(quality);
        let (piece_width, mcus) = if subsampled {
            let columns = width.div_ceil(16);
            let per_piece = (MIN_PIECE_MCUS..=MAX_PIECE_MCUS)
                .find(|n| columns % n == 0)
                .unwrap_or(columns);
            (per_piece * 16, per_piece)
        } else {
            (width, width.div_ceil(8) * BAND_ROWS / 8)
        };
        let mcus_per_piece =
            u16::try_from(mcus).map_err(|_| "too wide for JPEG restart intervals")?;
        let tables = [false, true].map(|chroma| tables::quant_table(quality, chroma));
        Ok(Cut {
            width,
            height,
            piece_width,
            mcus_per_piece,
            subsampled,
            tables,
            quantizer: Quantizer::new(&tables),
        })
    }

    /// Every piece, band by band, left to right.
    fn areas(&self) -> impl Iterator<Item = Area> + '_ {
        (0..self.height).step_by(BAND_ROWS).flat_map(move |y| {
            (0..self.width)
                .step_by(self.piece_width)
                .map(move |x| Area {
                    y,
                    x,
                    width: self.piece_width.min(self.width - x),
                    rows: BAND_ROWS.min(self.height - y),
                })
        })
    }

    /// The entropy-coded bytes of `pixmap`'s pixels in `area`: its MCUs row by row (a piece
    /// two MCUs tall spans the image's width), each block's DC predicted from the one
    /// before it of its component, from 0 at the piece's start. An MCU whose pixels are
    /// those of `under` (the same area of another image, and its piece) takes its blocks;
    /// `keep` keeps the piece's blocks for images drawn over this one.
    fn encode(
        &self,
        pixmap: &Pixmap,
        area: &Area,
        under: Option<(&Pixmap, &Piece)>,
        keep: bool,
    ) -> Piece {
        let (side, q) = (if self.subsampled { 16 } else { 8 }, &self.quantizer);
        let components = blocks::components(self.subsampled);
        let per_mcu = components.len();
        let mut scratch = [[0; 64]; blocks::MAX_BLOCKS];
        let under = under.and_then(|(pixels, piece)| Some((pixels, piece.blocks.as_ref()?)));
        let mut bytes = Vec::with_capacity(area.width * area.rows / 8);
        let mut kept = keep.then(Blocks::default);
        let mut bits = Bits::new(&mut bytes);
        let mut dc = [0i16; 3];
        let mut code = |block: &Coefficients, component: usize| {
            let codes = if component == 0 { &LUMA } else { &CHROMA };
            bits.put_block(block, dc[component], codes);
            dc[component] = block[0];
            if let Some(kept) = &mut kept {
                kept.push(block);
            }
        };
        let (bottom, right) = (area.y + area.rows, area.x + area.width);
        let mut index = 0;
        for y in (area.y..bottom).step_by(side) {
            for x in (area.x..right).step_by(side) {
                let mcu = Area {
                    y,
                    x,
                    width: side.min(right - x),
                    rows: side.min(bottom - y),
                };
                match under {
                    Some((pixels, blocks)) if mcu.same_in(pixmap, pixels) => {
                        for (b, &component) in components.iter().enumerate() {
                            code(&blocks.get(index * per_mcu + b), component);
                        }
                    }
                    _ => {
                        let computed =
                            blocks::mcu(pixmap, (x, y), self.subsampled, q, &mut scratch);
                        for (block, &component) in computed.iter().zip(components) {
                            code(block, component);
                        }
                    }
                }
                index += 1;
            }
        }
        bits.finish();
        Piece {
            bytes,
            blocks: kept,
        }
    }

    /// The file's headers, up to the start of its scan: JFIF, the quantization tables, the
    /// frame, the Huffman tables, the restart interval.
    fn write_headers(&self, file: &mut Vec<u8>) -> Result<(), String> {
        let height = u16::try_from(self.height).map_err(|_| "too tall for JPEG")?;
        let width = u16::try_from(self.width).map_err(|_| "too wide for JPEG")?;
        file.extend_from_slice(&[0xFF, 0xD8]); // SOI
        // APP0: JFIF 1.1, no density unit, 1:1, no thumbnail.
        file.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
        file.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        segment(file, 0xDB, |s| {
            for (id, table) in (0..).zip(&self.tables) {
                s.push(id);
                s.extend(tables::ZIGZAG.map(|natural| table[natural] as u8));
            }
        });
        segment(file, 0xC0, |s| {
            let luma_sampling = if self.subsampled { 0x22 } else { 0x11 };
            s.push(8);
            s.extend_from_slice(&height.to_be_bytes());
            s.extend_from_slice(&width.to_be_bytes());
            s.extend_from_slice(&[3, 1, luma_sampling, 0, 2, 0x11, 1, 3, 0x11, 1]);
        });
        segment(file, 0xC4, |s| {
            huffman::write_spec(0x00, &tables::LUMA_DC, s);
            huffman::write_spec(0x10, &tables::LUMA_AC, s);
            huffman::write_spec(0x01, &tables::CHROMA_DC, s);
            huffman::write_spec(0x11, &tables::CHROMA_AC, s);
        });
        segment(file, 0xDD, |s| {
            s.extend_from_slice(&self.mcus_per_piece.to_be_bytes())
        });
        // The scan: all three components, luminance with tables 0, chrominance with 1.
        segment(file, 0xDA, |s| {
            s.extend_from_slice(&[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0])
        });
        Ok(())
    }
}

/// Appends a marker segment: `marker`, its length, and what `body` writes.
fn segment(file: &mut Vec<u8>, marker: u8, body: impl FnOnce(&mut Vec<u8>)) {
    let start = file.len();
    file.extend_from_slice(&[0xFF, marker, 0, 0]);
    body(file);
    let len = (file.len() - start - 2) as u16;
    file[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

impl Area {
    /// Whether `a` and `b` (of one size) have the same pixels in this piece.
    fn same_in(&self, a: &Pixmap, b: &Pixmap) -> bool {
        self.rows_of(a).zip(self.rows_of(b)).all(|(a, b)| a == b)
    }

    fn rows_of<'a>(&self, pixmap: &'a Pixmap) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let (row, start, len) = (pixmap.width() as usize * 4, self.x * 4, self.width * 4);
        let rows = self.y..self.y + self.rows;
        rows.map(move |y| &pixmap.data()[y * row + start..][..len])
    }
}

/// Whether chroma is halved both ways at `quality` (4:2:0 below 90, 4:4:4 from 90 up).
fn subsampled(quality: u8) -> bool {
    quality < 90
}

/// Every piece of `pixmap` at `quality`, composited over white.
pub(super) fn pieces(pixmap: &Pixmap, quality: u8) -> Result<Pieces, String> {
    let cut = Cut::new(pixmap.width(), pixmap.height(), quality)?;
    let areas: Vec<Area> = cut.areas().collect();
    let pieces = (areas.par_iter())
        .map(|a| cut.encode(pixmap, a, None, true))
        .collect();
    Ok(Pieces { pieces })
}

/// Pixels an image was drawn over, the rows the drawing may have changed (the others hold
/// the pixels), and the pixels' pieces at the image's quality.
pub(super) struct Under<'a> {
    pub pixels: &'a Pixmap,
    pub changed: &'a [std::ops::Range<u32>],
    pub pieces: &'a Pieces,
}

/// `pixmap` as JPEG at `quality` into `file`, copying `under`'s pieces where the pixels are
/// its pixels.
pub(super) fn jpeg_in_pieces(
    pixmap: &Pixmap,
    quality: u8,
    under: Option<Under>,
    file: &mut Vec<u8>,
) -> Result<(), String> {
    let (width, height) = (pixmap.width(), pixmap.height());
    let cut = Cut::new(width, height, quality)?;
    let areas: Vec<Area> = cut.areas().collect();
    let under = under.filter(|u| u.pixels.width() == width && u.pixels.height() == height);
    let copied: Vec<Option<&Piece>> = match &under {
        Some(under) => (areas.iter().zip(&under.pieces.pieces))
            .map(|(area, piece)| {
                let rows = area.y as u32..(area.y + area.rows) as u32;
                let same = !any_meets(under.changed, rows) || area.same_in(pixmap, under.pixels);
                same.then_some(piece)
            })
            .collect(),
        None => vec![None; areas.len()],
    };
    // Pieces drawn on (every piece, with nothing under) are encoded in parallel.
    let drawn: Vec<usize> = (0..areas.len()).filter(|&i| copied[i].is_none()).collect();
    let encoded: Vec<Piece> = (drawn.par_iter())
        .map(|&i| {
            let under = (under.as_ref()).map(|u| (u.pixels, &u.pieces.pieces[i]));
            cut.encode(pixmap, &areas[i], under, false)
        })
        .collect();
    file.clear();
    cut.write_headers(file)?;
    let mut encoded = encoded.iter();
    for (i, copy) in copied.iter().enumerate() {
        if i > 0 {
            file.extend_from_slice(&[0xFF, 0xD0 + ((i - 1) % 8) as u8]); // RSTn
        }
        let piece = match copy {
            Some(piece) => piece,
            None => encoded.next().expect("a piece not copied is encoded"),
        };
        file.extend_from_slice(&piece.bytes);
    }
    file.extend_from_slice(&[0xFF, 0xD9]); // EOI
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pixels` and their `pieces`, any row possibly changed.
    fn anywhere<'a>(pixels: &'a Pixmap, pieces: &'a Pieces) -> Under<'a> {
        Under {
            pixels,
            changed: crate::raster::EVERY_ROW,
            pieces,
        }
    }

    /// A `width` x `height` opaque pattern that differs from band to band.
    fn pattern(width: u32, height: u32) -> Pixmap {
        translucent(width, height, 255)
    }

    /// [`pattern`] with every third pixel at `alpha`.
    fn translucent(width: u32, height: u32, alpha: u8) -> Pixmap {
        let mut pixmap = Pixmap::new(width, height).unwrap();
        for (i, pixel) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = ((i as u32 % width) as u8, (i as u32 / width) as u8);
            let a = if i % 3 == 0 { alpha } else { 255 };
            *pixel = tiny_skia::ColorU8::from_rgba(x.wrapping_mul(7), y.wrapping_mul(5), x ^ y, a)
                .premultiply();
        }
        pixmap
    }

    /// A `width` x `height` pattern smooth enough to compress as photos and gradients do,
    /// with sharp edges (text-like) in a stripe, every third pixel at `alpha`.
    fn smooth(width: u32, height: u32, alpha: u8) -> Pixmap {
        let mut pixmap = Pixmap::new(width, height).unwrap();
        for (i, pixel) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = (i as u32 % width, i as u32 / width);
            let edge = if (x / 3) % 4 == 0 && y % 16 < 8 {
                120
            } else {
                0
            };
            let r = (x * 255 / width) as u8;
            let g = (y * 255 / height) as u8;
            let b = ((x + y) % 256) as u8 / 2 + edge;
            let a = if i % 3 == 0 { alpha } else { 255 };
            *pixel = tiny_skia::ColorU8::from_rgba(r, g, b, a).premultiply();
        }
        pixmap
    }

    fn decode(jpeg: &[u8]) -> Vec<u8> {
        zune_jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg))
            .decode()
            .unwrap()
    }

    /// The largest difference of any channel between `decoded` RGB and `pixmap` over white,
    /// and the mean difference.
    fn error(decoded: &[u8], pixmap: &Pixmap) -> (u8, f64) {
        // Premultiplied over white: each channel plus the white showing through.
        let rgb: Vec<u8> = (pixmap.data().chunks_exact(4))
            .flat_map(|p| [p[0], p[1], p[2]].map(|c| c + (255 - p[3])))
            .collect();
        assert_eq!(decoded.len(), rgb.len());
        let diffs = decoded.iter().zip(&rgb).map(|(a, b)| a.abs_diff(*b));
        let max = diffs.clone().max().unwrap_or(0);
        let mean = diffs.map(f64::from).sum::<f64>() / rgb.len() as f64;
        (max, mean)
    }

    #[test]
    fn a_jpeg_in_pieces_decodes_to_its_pixels() {
        // 4:2:0 below quality 90, 4:4:4 above; a last band of 5 rows, and a single band;
        // bands in pieces of 10 MCUs (320 wide), of 9 with a narrower last (1000), and bands
        // 29 MCUs wide, which no piece size divides (464).
        for (width, height) in [
            (50, 37),
            (33, 16),
            (20, 7),
            (17, 160),
            (320, 40),
            (1000, 20),
            (464, 33),
        ] {
            // Bounds on the mean error: jpeg-encoder's files of these images decode to 7.4-12.3,
            // 6.0-12.4, 0.7-1.2 and 15.5-19.0 (the smallest image faring worst), this coder's to
            // 7.3-9.4, 5.4-8.4, 0.7-1.2 and 15.0-17.9, a little smaller.
            for (quality, alpha, max_mean) in [
                (60, 255, 10.0),
                (85, 255, 9.0),
                (95, 255, 1.5),
                (85, 100, 19.0),
            ] {
                // Translucent pixels are composited over white first.
                let pixmap = smooth(width, height, alpha);
                let mut file = Vec::new();
                jpeg_in_pieces(&pixmap, quality, None, &mut file).unwrap();
                let case = format!("{width}x{height} at quality {quality}, alpha {alpha}");
                let (max, mean) = error(&decode(&file), &pixmap);
                assert!(mean <= max_mean, "{case}: mean {mean:.2}, max {max}");
                // Restart markers RST0 to RST7 in turn, one before each piece after the first
                // (in the data, 0xFF is followed by 0x00 or a marker).
                let restarts: Vec<u8> = (file.windows(2))
                    .filter(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
                    .map(|w| w[1] - 0xD0)
                    .collect();
                let bands = (height as usize).div_ceil(BAND_ROWS);
                let per_band = match (width, quality) {
                    (320, ..90) => 2,
                    (1000, ..90) => 7,
                    _ => 1,
                };
                let expected: Vec<u8> = (0..bands * per_band - 1).map(|i| (i % 8) as u8).collect();
                assert_eq!(restarts, expected, "{case}");
            }
        }
    }

    #[test]
    fn higher_quality_is_closer_and_larger() {
        let pixmap = smooth(256, 96, 255);
        let (mut sizes, mut errors) = (Vec::new(), Vec::new());
        for quality in [10, 50, 85, 100] {
            let mut file = Vec::new();
            jpeg_in_pieces(&pixmap, quality, None, &mut file).unwrap();
            errors.push(error(&decode(&file), &pixmap).1);
            sizes.push(file.len());
        }
        assert!(
            sizes.is_sorted() && errors.is_sorted_by(|a, b| a > b),
            "{sizes:?} {errors:?}"
        );
        assert!(errors[3] < 1.0, "quality 100: mean error {}", errors[3]);
    }

    #[test]
    fn pieces_copied_from_under_change_no_file() {
        // One piece per band (40 wide), and five (800 wide) drawn on in runs: the first
        // piece, one in the middle, two apart, two together, the last band's last; at 4:2:0
        // (a piece one MCU tall) and 4:4:4 (two, the band's width).
        for (width, quality) in [(40, 80), (800, 80), (40, 95), (800, 95)] {
            let under = pattern(width, 50);
            let pieces = pieces(&under, quality).unwrap();
            let w = width as usize;
            let drawn = [
                vec![],
                vec![0],
                vec![w * 20 + 400],
                vec![w * 20 + 3, w * 21 + 500],
                vec![w * 20 + 170, w * 20 + 330],
                vec![w * 50 - 1],
            ];
            for drawn_at in drawn {
                let mut pixmap = pattern(width, 50);
                for &i in drawn_at.iter().filter(|&&i| i < w * 50) {
                    pixmap.pixels_mut()[i] =
                        tiny_skia::ColorU8::from_rgba(0, 0, 255, 255).premultiply();
                }
                let (mut over, mut without) = (Vec::new(), Vec::new());
                let under = anywhere(&under, &pieces);
                jpeg_in_pieces(&pixmap, quality, Some(under), &mut over).unwrap();
                jpeg_in_pieces(&pixmap, quality, None, &mut without).unwrap();
                let case = format!("{width} wide at quality {quality}, drawn at {drawn_at:?}");
                assert!(over == without, "{case}");
            }
        }
        let under = pattern(40, 50);
        let dot = tiny_skia::ColorU8::from_rgba(9, 9, 9, 255).premultiply();
        // Pieces and blocks are taken from the pieces under, not encoded again, where the
        // pixels are under's: pieces made from other pixels (a dot in the second MCU of the
        // second band) show in the file, whole where nothing was drawn...
        let mut other = pattern(40, 50);
        other.pixels_mut()[40 * 20 + 20] = dot;
        let wrong = super::pieces(&other, 80).unwrap();
        let (mut over, mut without) = (Vec::new(), Vec::new());
        jpeg_in_pieces(&under, 80, Some(anywhere(&under, &wrong)), &mut over).unwrap();
        jpeg_in_pieces(&under, 80, None, &mut without).unwrap();
        assert!(over != without);
        // ...and block by block in a piece drawn on elsewhere (its first MCU).
        let mut pixmap = pattern(40, 50);
        pixmap.pixels_mut()[40 * 20] = dot;
        let (mut over, mut without) = (Vec::new(), Vec::new());
        jpeg_in_pieces(&pixmap, 80, Some(anywhere(&under, &wrong)), &mut over).unwrap();
        jpeg_in_pieces(&pixmap, 80, None, &mut without).unwrap();
        let right = super::pieces(&under, 80).unwrap();
        let mut fair = Vec::new();
        jpeg_in_pieces(&pixmap, 80, Some(anywhere(&under, &right)), &mut fair).unwrap();
        assert!(over != without && fair == without);
    }

    #[test]
    fn pieces_outside_the_changed_rows_are_copied_without_comparing() {
        let under = pattern(40, 64);
        let pieces = pieces(&under, 80).unwrap();
        let mut pixmap = pattern(40, 64);
        pixmap.pixels_mut()[40 * 40] = tiny_skia::ColorU8::from_rgba(0, 0, 255, 255).premultiply();
        let encoded = |changed: &[std::ops::Range<u32>]| {
            let mut file = Vec::new();
            let under = Under {
                pixels: &under,
                changed,
                pieces: &pieces,
            };
            jpeg_in_pieces(&pixmap, 80, Some(under), &mut file).unwrap();
            file
        };
        let mut without = Vec::new();
        jpeg_in_pieces(&pixmap, 80, None, &mut without).unwrap();
        // Told the truth (row 40 changed), the file is the one encoded whole.
        assert!(encoded(&[2..5, 38..43]) == without);
        // Told that only rows 0 to 16 changed, the band of row 40 is taken as the backdrop's.
        let first_band = std::slice::from_ref(&(0..16));
        assert!(encoded(first_band) != without);
        assert!(encoded(first_band) == encoded(&[]));
    }
}
