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

/// Encodes a rendered pixmap as PNG, JPEG or WebP.
pub fn encode(
    pixmap: &Pixmap,
    format: Format,
    options: EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let fail = |message: String| EncodeError { format, message };
    let (width, height) = (pixmap.width(), pixmap.height());
    let mut out = Vec::new();
    match format {
        Format::Png => {
            let (data, channels) = straight_pixels(pixmap);
            let encoder = png_encoder(&mut out, width, height, channels, options);
            let mut writer = encoder.write_header().map_err(|e| fail(e.to_string()))?;
            writer
                .write_image_data(&data)
                .map_err(|e| fail(e.to_string()))?;
            writer.finish().map_err(|e| fail(e.to_string()))?;
        }
        Format::Jpeg => {
            let (w, h) = (
                u16::try_from(width).map_err(|_| fail("too wide for JPEG".into()))?,
                u16::try_from(height).map_err(|_| fail("too tall for JPEG".into()))?,
            );
            let rgb = over_white(pixmap);
            jpeg_encoder::Encoder::new(&mut out, options.jpeg_quality)
                .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| fail(e.to_string()))?;
        }
        Format::Webp => {
            let (data, color) = straight_pixels(pixmap);
            let color = if color == Channels::Rgb {
                image_webp::ColorType::Rgb8
            } else {
                image_webp::ColorType::Rgba8
            };
            image_webp::WebPEncoder::new(&mut out)
                .encode(&data, width, height, color)
                .map_err(|e| fail(e.to_string()))?;
        }
        Format::Svg => return Err(fail("SVG output is not rasterised".into())),
    }
    Ok(out)
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

/// Straight (non-premultiplied) pixels: RGB when every pixel is opaque, else RGBA.
fn straight_pixels(pixmap: &Pixmap) -> (Vec<u8>, Channels) {
    let data = pixmap.data();
    let mut out = Vec::new();
    if is_opaque(data) {
        rgb_into(data, &mut out);
        (out, Channels::Rgb)
    } else {
        straight_rgba_into(data, &mut out);
        (out, Channels::Rgba)
    }
}

/// RGB pixels composited over white (premultiplied `c + (255 - a)`).
fn over_white(pixmap: &Pixmap) -> Vec<u8> {
    pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| {
            let cover = 255 - p[3];
            [
                p[0].saturating_add(cover),
                p[1].saturating_add(cover),
                p[2].saturating_add(cover),
            ]
        })
        .collect()
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
