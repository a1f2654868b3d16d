//! JPEG in bands: the image cut into bands of [`BAND_ROWS`] rows (whole rows of MCUs), each
//! encoded on its own by jpeg-encoder and joined after restart markers, which reset the
//! decoder's DC prediction just as a new image starts it. A band's bytes then depend only on
//! its pixels and the quality, so a band a backdrop already holds is copied, and bands are
//! encoded in parallel, without changing the file.

use rayon::prelude::*;
use tiny_skia::Pixmap;

use super::pixels::{over_white_rows, row_bytes};

/// Pixel rows per band: one MCU row at 4:2:0 (qualities under 90), two at 4:4:4.
pub(super) const BAND_ROWS: usize = 16;

/// One band's entropy-coded bytes (no markers), as jpeg-encoder writes a band-sized image.
pub(super) type Band = Vec<u8>;

/// Every band of `pixmap` at `quality`, composited over white.
pub(super) fn bands(pixmap: &Pixmap, quality: u8) -> Result<Vec<Band>, String> {
    let width = pixmap.width();
    (pixmap.data().par_chunks(row_bytes(pixmap) * BAND_ROWS))
        .map(|rgba| encode_band(rgba, width, quality).map(|(_, band)| band))
        .collect()
}

/// `pixmap` as JPEG at `quality` into `file`, copying `under`'s bands (the bands of `pixels`,
/// encoded at this quality) where the pixels equal those.
pub(super) fn jpeg_in_bands(
    pixmap: &Pixmap,
    quality: u8,
    under: Option<(&Pixmap, &[Band])>,
    file: &mut Vec<u8>,
) -> Result<(), String> {
    let (width, height) = (pixmap.width(), pixmap.height());
    let height16 = u16::try_from(height).map_err(|_| "too tall for JPEG".to_string())?;
    u16::try_from(width).map_err(|_| "too wide for JPEG".to_string())?;
    let band_bytes = row_bytes(pixmap) * BAND_ROWS;
    let under = under.filter(|(pixels, _)| pixels.width() == width && pixels.height() == height);
    let copied: Vec<Option<&Band>> = match under {
        Some((pixels, bands)) => (pixmap.data().chunks(band_bytes))
            .zip(pixels.data().chunks(band_bytes).zip(bands))
            .map(|(drawn, (rows, band))| (drawn == rows).then_some(band))
            .collect(),
        None => vec![None; pixmap.data().chunks(band_bytes).len()],
    };
    // Bands drawn on are encoded, in parallel; so is the first, whose file gives the headers.
    let encoded: Vec<Option<(Vec<u8>, Band)>> = (pixmap.data().par_chunks(band_bytes))
        .zip(&copied)
        .enumerate()
        .map(|(i, (rgba, copy))| match copy {
            Some(_) if i > 0 => Ok(None),
            _ => encode_band(rgba, width, quality).map(Some),
        })
        .collect::<Result<_, String>>()?;
    let (first_file, _) = encoded[0]
        .as_ref()
        .expect("the first band is always encoded");
    let (headers, _) = split_file(first_file)?;
    file.clear();
    write_headers(headers, height16, file)?;
    for (i, (encoded, copy)) in encoded.iter().zip(&copied).enumerate() {
        if i > 0 {
            file.extend_from_slice(&[0xFF, 0xD0 + ((i - 1) % 8) as u8]); // RSTn
        }
        let band = encoded.as_ref().map(|(_, band)| band).or(*copy);
        file.extend_from_slice(band.expect("a band is copied or encoded"));
    }
    file.extend_from_slice(&[0xFF, 0xD9]); // EOI
    Ok(())
}

/// One band of premultiplied RGBA rows as a JPEG file of its own, and its entropy-coded bytes.
fn encode_band(rgba: &[u8], width: u32, quality: u8) -> Result<(Vec<u8>, Band), String> {
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    over_white_rows(rgba, &mut rgb);
    let rows = (rgba.len() / (width as usize * 4)) as u16;
    let mut band_file = Vec::with_capacity(rgb.len() / 8);
    jpeg_encoder::Encoder::new(&mut band_file, quality)
        .encode(&rgb, width as u16, rows, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())?;
    let (_, data) = split_file(&band_file)?;
    let band = data.to_vec();
    Ok((band_file, band))
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

/// How many MCUs a band holds: its width in MCUs times its MCU rows, read from the frame
/// header at `sof` (width, and the luma sampling factors).
fn mcus_per_band(headers: &[u8], sof: usize) -> Result<u16, String> {
    let width = u16::from_be_bytes([headers[sof + 7], headers[sof + 8]]);
    let sampling = headers[sof + 11]; // first component: horizontal << 4 | vertical
    let (h, v) = (usize::from(sampling >> 4), usize::from(sampling & 0xF));
    let columns = usize::from(width).div_ceil(8 * h);
    let rows = BAND_ROWS / (8 * v);
    u16::try_from(columns * rows).map_err(|_| "too wide for JPEG restart intervals".into())
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

/// A band's `headers` with the frame's height set to `height` and a restart interval of one
/// band inserted before the scan header.
fn write_headers(headers: &[u8], height: u16, file: &mut Vec<u8>) -> Result<(), String> {
    let sof = find_segment(headers, 0xC0).ok_or("jpeg-encoder wrote no baseline frame")?;
    let sos = find_segment(headers, 0xDA).ok_or("jpeg-encoder wrote no scan")?;
    let mcus_per_band = mcus_per_band(headers, sof)?;
    file.extend_from_slice(&headers[..sos]);
    file[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    file.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x04]); // DRI, length 4
    file.extend_from_slice(&mcus_per_band.to_be_bytes());
    file.extend_from_slice(&headers[sos..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width` x `height` opaque pattern that differs from band to band.
    fn pattern(width: u32, height: u32) -> Pixmap {
        let mut pixmap = Pixmap::new(width, height).unwrap();
        for (i, pixel) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = ((i as u32 % width) as u8, (i as u32 / width) as u8);
            *pixel =
                tiny_skia::ColorU8::from_rgba(x.wrapping_mul(7), y.wrapping_mul(5), x ^ y, 255)
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
    fn a_jpeg_in_bands_decodes_to_the_pixels_of_one_encoded_whole() {
        // 4:2:0 below quality 90, 4:4:4 above; a last band of 5 rows, and a single band.
        for (width, height) in [(50, 37), (33, 16), (20, 7), (17, 160)] {
            for quality in [60, 85, 95] {
                let pixmap = pattern(width, height);
                let mut banded = Vec::new();
                jpeg_in_bands(&pixmap, quality, None, &mut banded).unwrap();
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
                    decode(&banded),
                    decode(&whole),
                    "{width}x{height} at quality {quality}"
                );
                // Restart markers RST0 to RST7 in turn, one before each band after the first
                // (in the data, 0xFF is followed by 0x00 or a marker).
                let restarts: Vec<u8> = (banded.windows(2))
                    .filter(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
                    .map(|w| w[1] - 0xD0)
                    .collect();
                let bands = (height as usize).div_ceil(BAND_ROWS);
                let expected: Vec<u8> = (0..bands - 1).map(|i| (i % 8) as u8).collect();
                assert_eq!(restarts, expected, "{width}x{height} at quality {quality}");
            }
        }
    }

    #[test]
    fn bands_copied_from_under_change_no_file() {
        let under = pattern(40, 50);
        let bands = bands(&under, 80).unwrap();
        for drawn_at in [None, Some(0), Some(40 * 20 + 3), Some(40 * 49)] {
            let mut pixmap = pattern(40, 50);
            if let Some(i) = drawn_at {
                pixmap.pixels_mut()[i] =
                    tiny_skia::ColorU8::from_rgba(0, 0, 255, 255).premultiply();
            }
            let (mut over, mut without) = (Vec::new(), Vec::new());
            jpeg_in_bands(&pixmap, 80, Some((&under, &bands)), &mut over).unwrap();
            jpeg_in_bands(&pixmap, 80, None, &mut without).unwrap();
            assert!(over == without, "drawn at {drawn_at:?}");
        }
        // Bands of other pixels are copied, not encoded again, where the pixels match.
        let mut other = pattern(40, 50);
        other.pixels_mut()[40 * 20] = tiny_skia::ColorU8::from_rgba(9, 9, 9, 255).premultiply();
        let wrong = super::bands(&other, 80).unwrap();
        let (mut over, mut without) = (Vec::new(), Vec::new());
        jpeg_in_bands(&under, 80, Some((&under, &wrong)), &mut over).unwrap();
        jpeg_in_bands(&under, 80, None, &mut without).unwrap();
        assert!(over != without);
    }
}
