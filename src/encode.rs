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
            let (data, color) = straight_pixels(pixmap);
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(if color == Channels::Rgb {
                png::ColorType::Rgb
            } else {
                png::ColorType::Rgba
            });
            encoder.set_depth(png::BitDepth::Eight);
            // Measured on card A (benches/render.rs): level 2 with adaptive filters is about
            // 1.8x fdeflate's time for 0.75x its size, and stays under Satori's file size.
            encoder.set_deflate_compression(match options.png_compression {
                0 | 1 => png::DeflateCompression::FdeflateUltraFast,
                level => png::DeflateCompression::Level(level.min(9)),
            });
            encoder.set_filter(png::Filter::Adaptive);
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

#[derive(PartialEq)]
enum Channels {
    Rgb,
    Rgba,
}

/// Straight (non-premultiplied) pixels: RGB when every pixel is opaque, else RGBA.
fn straight_pixels(pixmap: &Pixmap) -> (Vec<u8>, Channels) {
    let opaque = pixmap.pixels().iter().all(|p| p.alpha() == 255);
    if opaque {
        let rgb = pixmap
            .data()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        (rgb, Channels::Rgb)
    } else {
        let rgba = pixmap
            .pixels()
            .iter()
            .flat_map(|p| {
                let c = p.demultiply();
                [c.red(), c.green(), c.blue(), c.alpha()]
            })
            .collect();
        (rgba, Channels::Rgba)
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
