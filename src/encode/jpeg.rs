//! JPEG in pieces: the image cut into bands of [`BAND_ROWS`] rows (whole rows of MCUs), each
//! band into pieces a few MCUs wide, joined after restart markers, which reset the decoder's
//! DC prediction just as a new image starts it. Pieces next to each other are encoded by
//! jpeg-encoder as one image restarting at every piece, so each piece has the bytes it has
//! encoded alone: they depend only on its pixels and the quality, and a piece a backdrop
//! already holds is copied (a card's text changes about half of the pieces in the bands it
//! crosses), and pieces are encoded in parallel, without changing the file.

use std::borrow::Cow;

use jpeg_encoder::SamplingFactor;
use rayon::prelude::*;
use tiny_skia::Pixmap;

use super::pixels::{is_opaque, over_white_rows, row_bytes};
use crate::raster::any_meets;

/// Pixel rows per band: one MCU row at 4:2:0 (qualities under 90), two at 4:4:4.
pub(super) const BAND_ROWS: usize = 16;

/// Pieces are the fewest MCUs from [`MIN_PIECE_MCUS`] to [`MAX_PIECE_MCUS`] that divides a
/// band's MCUs evenly (every piece must hold the restart interval's count); a band with no
/// such divisor, or two MCU rows (4:4:4), is one piece. Each piece costs a restart marker
/// and a DC prediction restarted: post.jpg in pieces of 15 MCUs is 3% larger than encoded
/// whole, in pieces of 5 9% larger, and no faster.
const MIN_PIECE_MCUS: usize = 8;
/// See [`MIN_PIECE_MCUS`].
const MAX_PIECE_MCUS: usize = 24;

/// One piece's entropy-coded bytes (no markers), as jpeg-encoder writes a piece-sized image.
pub(super) type Piece = Vec<u8>;

/// Every piece of an image at one quality, and the headers every image of its size at that
/// quality starts with (the frame's size is written over them), so that an image drawn over
/// it encodes only the pieces it drew on.
pub(super) struct Pieces {
    headers: Vec<u8>,
    pieces: Vec<Piece>,
}

impl Pieces {
    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.headers.capacity() + self.pieces.iter().map(Vec::capacity).sum::<usize>()
    }
}

/// How an image is cut into pieces.
#[derive(Debug, Clone, Copy)]
struct Cut {
    width: usize,
    height: usize,
    /// Every piece's width but the last in each band (which ends at the image's edge).
    piece_width: usize,
    /// The restart interval: MCUs in a whole piece.
    mcus_per_piece: u16,
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
        let (piece_width, mcus) = if subsampled(quality) {
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
        Ok(Cut {
            width,
            height,
            piece_width,
            mcus_per_piece,
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
}

impl Area {
    /// The piece's RGBA rows of `pixmap`, borrowed when they lie in one run.
    fn pixels<'a>(&self, pixmap: &'a Pixmap) -> Cow<'a, [u8]> {
        let row = row_bytes(pixmap);
        let rows = self.rows_of(pixmap);
        if self.width == pixmap.width() as usize {
            return Cow::Borrowed(&pixmap.data()[self.y * row..][..self.rows * row]);
        }
        let mut pixels = Vec::with_capacity(self.width * 4 * self.rows);
        rows.for_each(|r| pixels.extend_from_slice(r));
        Cow::Owned(pixels)
    }

    /// Whether `a` and `b` (of one size) have the same pixels in this piece.
    fn same_in(&self, a: &Pixmap, b: &Pixmap) -> bool {
        self.rows_of(a).zip(self.rows_of(b)).all(|(a, b)| a == b)
    }

    fn rows_of<'a>(&self, pixmap: &'a Pixmap) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let (row, start, len) = (row_bytes(pixmap), self.x * 4, self.width * 4);
        let rows = self.y..self.y + self.rows;
        rows.map(move |y| &pixmap.data()[y * row + start..][..len])
    }
}

/// Whether jpeg-encoder's default sampling at `quality` (set explicitly all the same)
/// halves chroma both ways.
fn subsampled(quality: u8) -> bool {
    quality < 90
}

/// Every piece of `pixmap` at `quality`, composited over white, and its headers.
pub(super) fn pieces(pixmap: &Pixmap, quality: u8) -> Result<Pieces, String> {
    let cut = Cut::new(pixmap.width(), pixmap.height(), quality)?;
    let areas: Vec<Area> = cut.areas().collect();
    let runs = runs(&areas, |_| true);
    let encoded: Vec<(Vec<u8>, Vec<Piece>)> = (runs.par_iter())
        .map(|run| encode_run(pixmap, &run.area, &cut, quality))
        .collect::<Result<_, String>>()?;
    let headers = split_file(&encoded[0].0)?.0.to_vec();
    let pieces = encoded.into_iter().flat_map(|(_, pieces)| pieces).collect();
    Ok(Pieces { headers, pieces })
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
    let height16 = u16::try_from(height).map_err(|_| "too tall for JPEG".to_string())?;
    let width16 = u16::try_from(width).map_err(|_| "too wide for JPEG".to_string())?;
    let cut = Cut::new(width, height, quality)?;
    let areas: Vec<Area> = cut.areas().collect();
    let under = under.filter(|u| u.pixels.width() == width && u.pixels.height() == height);
    let under_headers = under.as_ref().map(|u| u.pieces.headers.as_slice());
    let copied: Vec<Option<&Piece>> = match under {
        Some(under) => (areas.iter().zip(&under.pieces.pieces))
            .map(|(area, piece)| {
                let rows = area.y as u32..(area.y + area.rows) as u32;
                let same = !any_meets(under.changed, rows) || area.same_in(pixmap, under.pixels);
                same.then_some(piece)
            })
            .collect(),
        None => vec![None; areas.len()],
    };
    // Pieces drawn on (every piece, with nothing under) are encoded, in runs, in parallel.
    let runs = runs(&areas, |i| copied[i].is_none());
    let encoded: Vec<(Vec<u8>, Vec<Piece>)> = (runs.par_iter())
        .map(|run| encode_run(pixmap, &run.area, &cut, quality))
        .collect::<Result<_, String>>()?;
    // The headers are what is under's, or the first run's (which then starts the image).
    let headers = match under_headers {
        Some(headers) => headers,
        None => split_file(&encoded[0].0)?.0,
    };
    file.clear();
    write_headers(headers, width16, height16, file)?;
    let mut pieces = copied;
    for (run, (_, run_pieces)) in runs.iter().zip(&encoded) {
        for (i, piece) in (run.first..).zip(run_pieces) {
            pieces[i] = Some(piece);
        }
    }
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            file.extend_from_slice(&[0xFF, 0xD0 + ((i - 1) % 8) as u8]); // RSTn
        }
        file.extend_from_slice(piece.expect("a piece is copied or encoded"));
    }
    file.extend_from_slice(&[0xFF, 0xD9]); // EOI
    Ok(())
}

/// Pieces next to each other in one band, encoded as one image: the encoder restarts at
/// every piece, so each piece's bytes are those of the piece encoded alone.
struct Run {
    /// The index of its first piece.
    first: usize,
    /// The pieces' area together.
    area: Area,
}

/// The pieces `encode` picks (by index), in runs.
fn runs(areas: &[Area], encode: impl Fn(usize) -> bool) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, area) in areas.iter().enumerate().filter(|&(i, _)| encode(i)) {
        match runs.last_mut() {
            Some(run) if run.area.y == area.y && run.area.x + run.area.width == area.x => {
                run.area.width += area.width;
            }
            _ => runs.push(Run {
                first: i,
                area: *area,
            }),
        }
    }
    runs
}

/// The pixels of `area` (a run of whole pieces) as a JPEG file of their own, restarting at
/// every piece, and each piece's entropy-coded bytes.
fn encode_run(
    pixmap: &Pixmap,
    area: &Area,
    cut: &Cut,
    quality: u8,
) -> Result<(Vec<u8>, Vec<Piece>), String> {
    let rgba = area.pixels(pixmap);
    let mut file = Vec::with_capacity(rgba.len() / 32);
    let mut encoder = jpeg_encoder::Encoder::new(&mut file, quality);
    encoder.set_sampling_factor(match subsampled(quality) {
        true => SamplingFactor::F_2_2,
        false => SamplingFactor::F_1_1,
    });
    encoder.set_restart_interval(cut.mcus_per_piece);
    let (width, rows) = (area.width as u16, area.rows as u16);
    // Opaque pixels are their own colour over white: the encoder reads them as they are,
    // skipping the alpha byte, and computes the same samples it would from RGB.
    let encoded = if is_opaque(&rgba) {
        encoder.encode(&rgba, width, rows, jpeg_encoder::ColorType::Rgba)
    } else {
        let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
        over_white_rows(&rgba, &mut rgb);
        encoder.encode(&rgb, width, rows, jpeg_encoder::ColorType::Rgb)
    };
    encoded.map_err(|e| e.to_string())?;
    let (_, data) = split_file(&file)?;
    let pieces = split_at_restarts(data);
    Ok((file, pieces))
}

/// Entropy-coded data cut at its restart markers (in the data, 0xFF is followed by 0x00 or
/// a marker), without them.
fn split_at_restarts(data: &[u8]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(ff) = data[at..].iter().position(|&b| b == 0xFF) {
        let marker = at + ff;
        at = marker + 1;
        if data.get(at).is_some_and(|b| (0xD0..=0xD7).contains(b)) {
            pieces.push(data[start..marker].to_vec());
            start = at + 1;
        }
    }
    pieces.push(data[start..].to_vec());
    pieces
}

/// A JPEG file's headers (SOI up to the end of the scan header) and its entropy-coded data
/// (up to EOI).
fn split_file(file: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let sos = find_segment(file, 0xDA).ok_or("jpeg-encoder wrote no scan")?;
    let end = sos + 2 + usize::from(u16::from_be_bytes([file[sos + 2], file[sos + 3]]));
    match file
        .len()
        .checked_sub(2)
        .filter(|&data_end| data_end >= end)
    {
        Some(data_end) if file[data_end..] == [0xFF, 0xD9] => {
            Ok((&file[..end], &file[end..data_end]))
        }
        _ => Err("jpeg-encoder wrote no EOI after the scan".into()),
    }
}

/// The offset of the first segment with `marker` in `headers` (a file's start: SOI, then
/// segments with lengths).
fn find_segment(headers: &[u8], marker: u8) -> Option<usize> {
    let mut at = 2; // after SOI
    while at + 4 <= headers.len() {
        if headers[at + 1] == marker {
            return Some(at);
        }
        at += 2 + usize::from(u16::from_be_bytes([headers[at + 2], headers[at + 3]]));
    }
    None
}

/// A run's `headers` (with its restart interval) with the frame's size set to the image's.
fn write_headers(
    headers: &[u8],
    width: u16,
    height: u16,
    file: &mut Vec<u8>,
) -> Result<(), String> {
    let sof = find_segment(headers, 0xC0).ok_or("jpeg-encoder wrote no baseline frame")?;
    find_segment(headers, 0xDD).ok_or("jpeg-encoder wrote no restart interval")?;
    let at = file.len();
    file.extend_from_slice(headers);
    file[at + sof + 5..at + sof + 7].copy_from_slice(&height.to_be_bytes());
    file[at + sof + 7..at + sof + 9].copy_from_slice(&width.to_be_bytes());
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

    fn decode(jpeg: &[u8]) -> Vec<u8> {
        zune_jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg))
            .decode()
            .unwrap()
    }

    #[test]
    fn a_jpeg_in_pieces_decodes_to_the_pixels_of_one_encoded_whole() {
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
            for (quality, alpha) in [(60, 255), (85, 255), (95, 255), (85, 100)] {
                // Translucent pixels are composited over white first.
                let pixmap = translucent(width, height, alpha);
                let mut in_pieces = Vec::new();
                jpeg_in_pieces(&pixmap, quality, None, &mut in_pieces).unwrap();
                let mut rgb = Vec::new();
                over_white_rows(pixmap.data(), &mut rgb);
                let mut whole = Vec::new();
                jpeg_encoder::Encoder::new(&mut whole, quality)
                    .encode(
                        &rgb,
                        width as u16,
                        height as u16,
                        jpeg_encoder::ColorType::Rgb,
                    )
                    .unwrap();
                assert_eq!(
                    decode(&in_pieces),
                    decode(&whole),
                    "{width}x{height} at quality {quality}, alpha {alpha}"
                );
                // Restart markers RST0 to RST7 in turn, one before each piece after the first
                // (in the data, 0xFF is followed by 0x00 or a marker).
                let restarts: Vec<u8> = (in_pieces.windows(2))
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
                assert_eq!(
                    restarts, expected,
                    "{width}x{height} at quality {quality}, alpha {alpha}"
                );
            }
        }
    }

    #[test]
    fn pieces_copied_from_under_change_no_file() {
        // One piece per band (40 wide), and five (800 wide) drawn on in runs: the first
        // piece, one in the middle, two apart, two together, the last band's last.
        for width in [40, 800] {
            let under = pattern(width, 50);
            let pieces = pieces(&under, 80).unwrap();
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
                jpeg_in_pieces(&pixmap, 80, Some(under), &mut over).unwrap();
                jpeg_in_pieces(&pixmap, 80, None, &mut without).unwrap();
                assert!(over == without, "{width} wide, drawn at {drawn_at:?}");
            }
        }
        let under = pattern(40, 50);
        // Bands of other pixels are copied, not encoded again, where the pixels match.
        let mut other = pattern(40, 50);
        other.pixels_mut()[40 * 20] = tiny_skia::ColorU8::from_rgba(9, 9, 9, 255).premultiply();
        let wrong = super::pieces(&other, 80).unwrap();
        let (mut over, mut without) = (Vec::new(), Vec::new());
        jpeg_in_pieces(&under, 80, Some(anywhere(&under, &wrong)), &mut over).unwrap();
        jpeg_in_pieces(&under, 80, None, &mut without).unwrap();
        assert!(over != without);
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
