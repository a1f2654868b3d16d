//! Output formats and the encoders that turn a rendered pixmap into file bytes.
//!
//! Encoders are picked for speed at a sane size (measured in `benches/render.rs`): PNG with
//! the `png` crate's fdeflate-based fast mode, stored as RGB when the image is opaque.

use tiny_skia::Pixmap;

/// An output format, chosen by the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// PNG, the default.
    Png,
    /// JPEG (`.jpg` or `.jpeg`), composited over white.
    Jpeg,
    /// Lossless WebP.
    Webp,
    /// The filled SVG itself, not rasterised.
    Svg,
}

impl Format {
    /// Maps a file extension (without the dot) to a format.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "webp" => Some(Format::Webp),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }

    /// The canonical extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
            Format::Svg => "svg",
        }
    }

    /// The MIME type for `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
            Format::Svg => "image/svg+xml",
        }
    }
}

/// An encoder failure (it would be a bug: the inputs are checked before).
#[derive(Debug, thiserror::Error)]
#[error("{format:?} encoding failed: {message}")]
pub struct EncodeError {
    format: Format,
    message: String,
}

/// Output settings that trade time for size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// JPEG quality, 1 to 100.
    pub jpeg_quality: u8,
    /// PNG compression level: 1 is fdeflate's single fast pass, 2 to 9 are zlib levels.
    pub png_compression: u8,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            jpeg_quality: crate::params::DEFAULT_JPEG_QUALITY,
            png_compression: crate::config::Limits::default().png_compression,
        }
    }
}

/// Compressed bytes per PNG IDAT chunk (each chunk costs 12 bytes of framing).
const IDAT_BYTES: usize = 64 * 1024;

/// Working memory an encoder reuses from one image to the next: the converted pixels and
/// the file. A server keeps one per render thread, so that multi-megabyte buffers are not
/// allocated and freed beside the long-lived cache on every render (which fragments the
/// heap until the process holds far more than the cache's budget).
#[derive(Debug, Default)]
pub struct Buffers {
    pixels: Vec<u8>,
    file: Vec<u8>,
}

impl Buffers {
    /// Frees buffers grown past `max_bytes` (by a rare huge render), keeping the rest.
    pub fn trim(&mut self, max_bytes: usize) {
        for buffer in [&mut self.pixels, &mut self.file] {
            if buffer.capacity() > max_bytes {
                *buffer = Vec::new();
            }
        }
    }
}

/// Encodes a rendered pixmap as PNG, JPEG or WebP.
pub fn encode(
    pixmap: &Pixmap,
    format: Format,
    options: EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let mut buffers = Buffers::default();
    encode_with(pixmap, format, options, &mut buffers)?;
    Ok(buffers.file)
}

/// [`encode`] into `buffers`; returns the file, which stays valid until their next use.
pub fn encode_with<'a>(
    pixmap: &Pixmap,
    format: Format,
    options: EncodeOptions,
    buffers: &'a mut Buffers,
) -> Result<&'a [u8], EncodeError> {
    let fail = |message: String| EncodeError { format, message };
    let (width, height) = (pixmap.width(), pixmap.height());
    let Buffers { pixels, file } = buffers;
    pixels.clear();
    file.clear();
    match format {
        Format::Png => {
            let channels = straight_pixels(pixmap, pixels);
            let encoder = png_encoder(&mut *file, width, height, channels, options);
            // Streamed row by row: unlike `write_image_data`, no whole-image filter buffer
            // and no separate compressed copy are allocated.
            let mut writer = encoder.write_header().map_err(|e| fail(e.to_string()))?;
            let mut stream = writer
                .stream_writer_with_size(IDAT_BYTES)
                .map_err(|e| fail(e.to_string()))?;
            std::io::Write::write_all(&mut stream, pixels).map_err(|e| fail(e.to_string()))?;
            stream.finish().map_err(|e| fail(e.to_string()))?;
            writer.finish().map_err(|e| fail(e.to_string()))?;
        }
        Format::Jpeg => {
            let (w, h) = (
                u16::try_from(width).map_err(|_| fail("too wide for JPEG".into()))?,
                u16::try_from(height).map_err(|_| fail("too tall for JPEG".into()))?,
            );
            over_white(pixmap, pixels);
            jpeg_encoder::Encoder::new(&mut *file, options.jpeg_quality)
                .encode(pixels, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| fail(e.to_string()))?;
        }
        Format::Webp => {
            let color = match straight_pixels(pixmap, pixels) {
                Channels::Rgb => image_webp::ColorType::Rgb8,
                Channels::Rgba => image_webp::ColorType::Rgba8,
            };
            image_webp::WebPEncoder::new(&mut *file)
                .encode(pixels, width, height, color)
                .map_err(|e| fail(e.to_string()))?;
        }
        Format::Svg => return Err(fail("SVG output is not rasterised".into())),
    }
    Ok(file)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Channels {
    Rgb,
    Rgba,
}

fn png_encoder<W: std::io::Write>(
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
    // Levels as measured on the bundled cards (benches/render.rs): 1 is fdeflate's single
    // pass with Paeth filters, fastest and largest; 2, the default, is zlib level 2 without
    // filters, which suits flat colour, gradients and text (card A: 113 KB, faster and
    // smaller than with filters); 3 to 9 add adaptive filters, better for photos.
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

/// Appends the RGB of premultiplied RGBA pixels known to be opaque.
fn rgb_into(rgba: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + rgba.len() / 4 * 3, 0);
    for (rgb, pixel) in out[start..].chunks_exact_mut(3).zip(rgba.chunks_exact(4)) {
        rgb.copy_from_slice(&pixel[..3]);
    }
}

/// Whether every pixel of premultiplied RGBA data is opaque.
fn is_opaque(rgba: &[u8]) -> bool {
    // Eight pixels at a time, with no early exit inside a block: this vectorises.
    let mut blocks = rgba.chunks_exact(32);
    let blocks_opaque = blocks
        .by_ref()
        .all(|block| block.iter().skip(3).step_by(4).fold(255, |a, &b| a & b) == 255);
    blocks_opaque
        && blocks
            .remainder()
            .iter()
            .skip(3)
            .step_by(4)
            .all(|&a| a == 255)
}

/// Appends premultiplied RGBA pixels as straight RGBA.
fn straight_rgba_into(rgba: &[u8], out: &mut Vec<u8>) {
    out.reserve(rgba.len());
    for p in rgba.chunks_exact(4) {
        let c = tiny_skia::PremultipliedColorU8::from_rgba(p[0], p[1], p[2], p[3])
            .expect("tiny-skia pixels are premultiplied")
            .demultiply();
        out.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
}

/// Straight (non-premultiplied) pixels into `out`: RGB when every pixel is opaque, else RGBA.
fn straight_pixels(pixmap: &Pixmap, out: &mut Vec<u8>) -> Channels {
    let data = pixmap.data();
    if is_opaque(data) {
        rgb_into(data, out);
        Channels::Rgb
    } else {
        straight_rgba_into(data, out);
        Channels::Rgba
    }
}

/// RGB pixels composited over white (premultiplied `c + (255 - a)`), into `out`.
fn over_white(pixmap: &Pixmap, out: &mut Vec<u8>) {
    let data = pixmap.data();
    let start = out.len();
    out.resize(start + data.len() / 4 * 3, 0);
    for (rgb, p) in out[start..].chunks_exact_mut(3).zip(data.chunks_exact(4)) {
        let cover = 255 - p[3];
        rgb[0] = p[0].saturating_add(cover);
        rgb[1] = p[1].saturating_add(cover);
        rgb[2] = p[2].saturating_add(cover);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
