//! A whole image as PNG through the `png` crate: streamed row by row, RGB when opaque, with
//! the filters and zlib level each compression level stands for.

use tiny_skia::Pixmap;

use super::options::EncodeOptions;
use super::pixels::{Channels, straight_pixels};

/// Compressed bytes per PNG IDAT chunk (each chunk costs 12 bytes of framing).
pub(super) const IDAT_BYTES: usize = 64 * 1024;

/// The level written in blocks even without a backdrop (the default, unfiltered), so that a
/// found background's blocks can be copied into it without changing the file: block by
/// block costs the bundled cards about 1% in size.
pub(super) const BLOCKED_LEVEL: u8 = 2;

/// The PNG compression levels that never filter rows (a backdrop's rows are unfiltered).
pub(super) const UNFILTERED_LEVELS: std::ops::RangeInclusive<u8> = 1..=2;

/// The whole image as PNG into `out`, its pixels converted in `pixels`: RGB when opaque,
/// filtered and compressed as `options` says.
pub(super) fn whole_image(
    pixmap: &Pixmap,
    options: EncodeOptions,
    pixels: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.clear();
    pixels.clear();
    let channels = straight_pixels(pixmap, pixels);
    let encoder = png_encoder(
        &mut *out,
        pixmap.width(),
        pixmap.height(),
        channels,
        options,
    );
    // Streamed row by row: unlike `write_image_data`, no whole-image filter buffer and no
    // separate compressed copy are allocated.
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    let mut stream = writer
        .stream_writer_with_size(IDAT_BYTES)
        .map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut stream, pixels).map_err(|e| e.to_string())?;
    stream.finish().map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(())
}

pub(super) fn png_encoder<W: std::io::Write>(
    out: W,
    width: u32,
    height: u32,
    channels: Channels,
    options: EncodeOptions,
) -> png::Encoder<'static, W> {
    let mut encoder = png::Encoder::new(out, width, height);
    encoder.set_color(match channels {
        Channels::Rgb => png::ColorType::Rgb,
        Channels::Rgba => png::ColorType::Rgba,
    });
    encoder.set_depth(png::BitDepth::Eight);
    // Levels for a whole image, as measured on the bundled cards (benches/render.rs): 1 is
    // fdeflate's single pass with Paeth filters, fastest and largest; 2, the default, is zlib
    // level 2 without filters, which suits flat colour, gradients and text (card A drawn
    // whole: 113 KB, faster and smaller than with filters); 3 to 9 add adaptive filters,
    // better for photos. Over a backdrop, see `png_into`.
    let (deflate, filter) = match options.png_compression {
        0 | 1 => (
            png::DeflateCompression::FdeflateUltraFast,
            png::Filter::Paeth,
        ),
        2 => (png::DeflateCompression::Level(2), png::Filter::NoFilter),
        level => (
            png::DeflateCompression::Level(level.min(9)),
            png::Filter::Adaptive,
        ),
    };
    encoder.set_deflate_compression(deflate);
    encoder.set_filter(filter);
    encoder
}

#[cfg(test)]
mod tests {
    use crate::encode::{EncodeOptions, encode};
    use crate::format::Format;
    use tiny_skia::Pixmap;

    #[test]
    fn one_translucent_pixel_anywhere_makes_the_png_rgba() {
        // 9 pixels a row: the check reads 8 at a time, so the last one is in the remainder.
        for at in [None, Some(0), Some(7), Some(8), Some(80)] {
            let mut pixmap = Pixmap::new(9, 9).unwrap();
            pixmap.fill(tiny_skia::Color::from_rgba8(10, 20, 30, 255));
            if let Some(i) = at {
                pixmap.pixels_mut()[i] =
                    tiny_skia::ColorU8::from_rgba(10, 20, 30, 254).premultiply();
            }
            let png = encode(&pixmap, Format::Png, EncodeOptions::default()).unwrap();
            let reader = png::Decoder::new(std::io::Cursor::new(png))
                .read_info()
                .unwrap();
            let expected = if at.is_some() {
                png::ColorType::Rgba
            } else {
                png::ColorType::Rgb
            };
            assert_eq!(
                reader.info().color_type,
                expected,
                "translucent pixel at {at:?}"
            );
        }
    }
}
