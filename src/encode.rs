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
    // Measured on card A (benches/render.rs): level 2 with adaptive filters is about 1.6x
    // fdeflate's time for 0.75x its size, and stays under Satori's file size.
    encoder.set_deflate_compression(match options.png_compression {
        0 | 1 => png::DeflateCompression::FdeflateUltraFast,
        level => png::DeflateCompression::Level(level.min(9)),
    });
    encoder.set_filter(png::Filter::Adaptive);
    encoder
}

/// Compressed bytes per IDAT chunk when streaming (each chunk costs 12 bytes of framing).
const IDAT_BYTES: usize = 256 * 1024;

/// Encodes a PNG while `draw` is still drawing it: `draw` gets a function to hand each band
/// of rows to (premultiplied RGBA, top to bottom; see
/// [`crate::render::rasterize_streaming`]) and returns the finished pixmap.
///
/// The stream is RGB, as cards are opaque; if a band turns out to have transparency, the
/// stream is dropped and the finished pixmap is encoded whole (RGBA) with [`encode`]. The
/// pixels are the same as [`encode`]'s, and the bytes do not depend on the bands' sizes.
pub fn png_while_drawing<E: From<EncodeError>>(
    width: u32,
    height: u32,
    options: EncodeOptions,
    draw: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<Pixmap, E>,
) -> Result<Vec<u8>, E> {
    let fail = |message: String| EncodeError {
        format: Format::Png,
        message,
    };
    let mut out = Vec::new();
    let mut writer = png_encoder(&mut out, width, height, Channels::Rgb, options)
        .write_header()
        .map_err(|e| fail(e.to_string()))?;
    let mut stream = writer
        .stream_writer_with_size(IDAT_BYTES)
        .map_err(|e| fail(e.to_string()))?;
    let mut rgb = Vec::new();
    let mut failure: Option<String> = None;
    let mut opaque = true;
    let pixmap = draw(&mut |rows: &[u8]| {
        if failure.is_some() || !opaque {
            return;
        }
        if !rows.chunks_exact(4).all(|p| p[3] == 255) {
            opaque = false;
            return;
        }
        rgb.clear();
        rgb_into(rows, &mut rgb);
        if let Err(e) = std::io::Write::write_all(&mut stream, &rgb) {
            failure = Some(e.to_string());
        }
    })?;
    if let Some(message) = failure {
        return Err(fail(message).into());
    }
    if !opaque {
        drop(stream);
        drop(writer);
        return Ok(encode(&pixmap, Format::Png, options)?);
    }
    stream.finish().map_err(|e| fail(e.to_string()))?;
    writer.finish().map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

/// Appends the RGB of premultiplied RGBA pixels known to be opaque.
fn rgb_into(rgba: &[u8], out: &mut Vec<u8>) {
    out.reserve(rgba.len() / 4 * 3);
    for p in rgba.chunks_exact(4) {
        out.extend_from_slice(&p[..3]);
    }
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
    if data.chunks_exact(4).all(|p| p[3] == 255) {
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

    /// A pixmap with a gradient, opaque or with a transparent lower half.
    fn picture(transparent_bottom: bool) -> Pixmap {
        let mut pixmap = Pixmap::new(300, 200).unwrap();
        for (i, p) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = ((i % 300) as u8, (i / 300) as u8);
            let alpha = if transparent_bottom && y >= 150 {
                128
            } else {
                255
            };
            let c = tiny_skia::ColorU8::from_rgba(x, y, x ^ y, alpha);
            *p = c.premultiply();
        }
        pixmap
    }

    fn streamed(pixmap: &Pixmap, band_rows: usize) -> Vec<u8> {
        png_while_drawing::<EncodeError>(300, 200, EncodeOptions::default(), |consume| {
            for band in pixmap.data().chunks(band_rows * 300 * 4) {
                consume(band);
            }
            Ok(pixmap.clone())
        })
        .unwrap()
    }

    fn decoded(png: &[u8]) -> (png::ColorType, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        (info.color_type, pixels)
    }

    #[test]
    fn a_png_streamed_in_bands_is_the_png_encoded_whole() {
        for transparent in [false, true] {
            let pixmap = picture(transparent);
            let whole = encode(&pixmap, Format::Png, EncodeOptions::default()).unwrap();
            let first = streamed(&pixmap, 1);
            assert_eq!(
                decoded(&first),
                decoded(&whole),
                "transparent: {transparent}"
            );
            for band_rows in [7, 50, 200] {
                assert!(
                    streamed(&pixmap, band_rows) == first,
                    "transparent: {transparent}, bands of {band_rows} rows"
                );
            }
        }
        assert_eq!(
            decoded(&streamed(&picture(false), 9)).0,
            png::ColorType::Rgb
        );
        assert_eq!(
            decoded(&streamed(&picture(true), 9)).0,
            png::ColorType::Rgba
        );
    }
}
