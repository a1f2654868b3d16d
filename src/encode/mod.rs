//! Encoders that turn a rendered pixmap into file bytes: PNG, JPEG (the project's baseline
//! coder) and WebP (lossy through the project's VP8 encoder or, with transparency, libwebp;
//! lossless through image-webp).
//!
//! Encoders are picked for speed at a sane size (measured in `benches/render.rs`): PNG
//! through the `png` crate, stored as RGB when the image is opaque ([`png`](self::png)), its
//! rows in blocks compressed one by one; a background is a [`Backdrop`] whose blocks are
//! compressed once, so a render over it compresses only the blocks it drew on
//! ([`backdrop`](self::backdrop)); JPEGs are written in pieces the same way, reusing the
//! background's quantized blocks inside pieces drawn on ([`jpeg`](self::jpeg)). Which
//! format a request asks for is [`crate::format`]'s business.

mod backdrop;
mod jpeg;
mod options;
mod pixels;
mod png;
mod vp8;

use tiny_skia::Pixmap;

use crate::format::Format;

pub use backdrop::{Backdrop, Over};
pub use options::{
    Buffers, DEFAULT_JPEG_QUALITY, DEFAULT_PNG_COMPRESSION, DEFAULT_WEBP_QUALITY, EncodeError,
    EncodeOptions,
};

/// Encodes a rendered pixmap as PNG, JPEG or WebP.
pub fn encode(
    pixmap: &Pixmap,
    format: Format,
    options: EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let mut buffers = Buffers::default();
    encode_with(pixmap, format, options, None, &mut buffers)?;
    Ok(buffers.file)
}

/// [`encode`] into `buffers`; returns the file, which stays valid until their next use.
/// `over` is the backdrop `pixmap` was drawn over, if any: PNG blocks and JPEG pieces the
/// drawing left untouched are then copied from the backdrop's.
pub fn encode_with<'a>(
    pixmap: &Pixmap,
    format: Format,
    options: EncodeOptions,
    over: Option<Over>,
    buffers: &'a mut Buffers,
) -> Result<&'a [u8], EncodeError> {
    let fail = |message: String| EncodeError::new(format, message);
    let (width, height) = (pixmap.width(), pixmap.height());
    match format {
        Format::Png => png_into(pixmap, options, over.as_ref(), buffers).map_err(fail)?,
        Format::Jpeg => {
            let quality = options.jpeg_quality;
            let pieces = (over.as_ref())
                .map(|o| o.backdrop.jpeg_pieces(quality))
                .transpose()
                .map_err(fail)?;
            let under = over
                .zip(pieces.as_deref())
                .map(|(over, pieces)| jpeg::Under {
                    pixels: over.backdrop.pixmap(),
                    changed: over.changed,
                    pieces,
                });
            jpeg::jpeg_in_pieces(pixmap, quality, under, &mut buffers.file).map_err(fail)?;
        }
        Format::Webp => match options.webp_quality {
            Some(quality) if opaque(pixmap, over.as_ref()) => {
                vp8_into(pixmap, quality, over, &mut buffers.file).map_err(fail)?
            }
            quality => {
                let (pixels, file) = buffers.cleared();
                let channels = pixels::straight_pixels(pixmap, pixels);
                match quality {
                    Some(quality) => {
                        webp_lossy(pixels, channels, width, height, quality, file).map_err(fail)?
                    }
                    None => {
                        let color = match channels {
                            pixels::Channels::Rgb => image_webp::ColorType::Rgb8,
                            pixels::Channels::Rgba => image_webp::ColorType::Rgba8,
                        };
                        image_webp::WebPEncoder::new(file)
                            .encode(pixels, width, height, color)
                            .map_err(|e| fail(e.to_string()))?;
                    }
                }
            }
        },
        Format::Svg | Format::Pdf => return Err(fail("vector output is not rasterised".into())),
    }
    Ok(&buffers.file)
}

/// Lossy WebP of opaque `pixmap` through the project's VP8 encoder into `file`, taking what
/// it can from the backdrop it was drawn over.
fn vp8_into(
    pixmap: &Pixmap,
    quality: u8,
    over: Option<Over>,
    file: &mut Vec<u8>,
) -> Result<(), String> {
    let bands = (over.as_ref())
        .map(|o| o.backdrop.webp_bands(quality))
        .transpose()?
        .flatten();
    let under = over.zip(bands.as_deref()).map(|(over, bands)| vp8::Under {
        pixels: over.backdrop.pixmap(),
        changed: over.changed,
        bands,
    });
    vp8::webp(pixmap, quality, under, file)
}

/// Whether every pixel of `pixmap` is opaque; over an opaque backdrop only the rows the
/// drawing may have changed are looked at (drawing over opaque pixels leaves them opaque).
fn opaque(pixmap: &Pixmap, over: Option<&Over>) -> bool {
    let row = pixels::row_bytes(pixmap);
    match over {
        Some(over) if over.backdrop.is_opaque() => over.changed.iter().all(|rows| {
            let end = rows.end.min(pixmap.height()) as usize;
            let start = (rows.start as usize).min(end);
            pixels::is_opaque(&pixmap.data()[start * row..end * row])
        }),
        _ => pixels::is_opaque(pixmap.data()),
    }
}

/// Lossy WebP (libwebp) of straight `pixels` into `file`.
fn webp_lossy(
    pixels: &[u8],
    channels: pixels::Channels,
    width: u32,
    height: u32,
    quality: u8,
    file: &mut Vec<u8>,
) -> Result<(), String> {
    let encoder = match channels {
        pixels::Channels::Rgb => webp::Encoder::from_rgb(pixels, width, height),
        pixels::Channels::Rgba => webp::Encoder::from_rgba(pixels, width, height),
    };
    let mut config = webp::WebPConfig::new().map_err(|()| "libwebp config".to_string())?;
    config.quality = f32::from(quality);
    config.method = options::WEBP_METHOD;
    let encoded = encoder
        .encode_advanced(&config)
        .map_err(|e| format!("{e:?}"))?;
    file.extend_from_slice(&encoded);
    Ok(())
}

/// PNG into `buffers.file`. Written in blocks (see [`backdrop`](self::backdrop)) at
/// [`png::BLOCKED_LEVEL`] or over a backdrop holding blocks for the level, copying its
/// untouched ones; levels 3 to 9 also try the whole image with adaptive filters (better for
/// photos) and keep the smaller file. Level 1 alone is fdeflate's single pass.
fn png_into(
    pixmap: &Pixmap,
    options: EncodeOptions,
    over: Option<&Over>,
    buffers: &mut Buffers,
) -> Result<(), String> {
    let level = options.png_compression;
    let copies = over.is_some_and(|o| o.backdrop.has_blocks_for(level));
    let in_blocks = (copies || level == png::BLOCKED_LEVEL)
        && backdrop::png_in_blocks(pixmap, options, over, buffers)?;
    if in_blocks && png::UNFILTERED_LEVELS.contains(&level) {
        return Ok(());
    }
    let Buffers {
        pixels,
        file,
        spare,
        ..
    } = buffers;
    let out = if in_blocks { &mut *spare } else { &mut *file };
    png::whole_image(pixmap, options, pixels, out)?;
    if in_blocks && spare.len() < file.len() {
        std::mem::swap(file, spare);
    }
    Ok(())
}
