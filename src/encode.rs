//! Output formats and the encoders that turn a rendered pixmap into file bytes.
//!
//! Encoders are picked for speed at a sane size (measured in `benches/render.rs`): PNG
//! through the `png` crate, stored as RGB when the image is opaque. A template's background
//! is a [`Backdrop`] whose PNG rows are compressed once, so a render over it compresses only
//! the rows it drew on.

use flate2::{Compress, Compression, FlushCompress};
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

impl EncodeOptions {
    /// The default options with PNG compression `level`.
    pub fn png(level: u8) -> EncodeOptions {
        EncodeOptions {
            png_compression: level,
            ..EncodeOptions::default()
        }
    }
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
#[derive(Default)]
pub struct Buffers {
    pixels: Vec<u8>,
    deflated: Vec<u8>,
    file: Vec<u8>,
    /// A second file, when two ways of encoding are tried.
    spare: Vec<u8>,
    /// The backdrop path's compressor and its level (zlib's state is a few hundred KB).
    compress: Option<(u8, Compress)>,
}

impl std::fmt::Debug for Buffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffers")
            .field("pixels", &self.pixels.capacity())
            .field("deflated", &self.deflated.capacity())
            .field("file", &self.file.capacity())
            .field("spare", &self.spare.capacity())
            .finish_non_exhaustive()
    }
}

impl Buffers {
    /// The pixel and file buffers, emptied.
    fn cleared(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>) {
        self.pixels.clear();
        self.file.clear();
        (&mut self.pixels, &mut self.file)
    }

    /// Frees buffers grown past `max_bytes` (by a rare huge render), keeping the rest.
    pub fn trim(&mut self, max_bytes: usize) {
        for buffer in [
            &mut self.pixels,
            &mut self.deflated,
            &mut self.file,
            &mut self.spare,
        ] {
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
    encode_with(pixmap, format, options, None, &mut buffers)?;
    Ok(buffers.file)
}

/// [`encode`] into `buffers`; returns the file, which stays valid until their next use.
/// `backdrop` is what `pixmap` was drawn over, if anything: PNG rows it left untouched are
/// then copied from the backdrop's compressed rows.
pub fn encode_with<'a>(
    pixmap: &Pixmap,
    format: Format,
    options: EncodeOptions,
    backdrop: Option<&Backdrop>,
    buffers: &'a mut Buffers,
) -> Result<&'a [u8], EncodeError> {
    let fail = |message: String| EncodeError { format, message };
    let (width, height) = (pixmap.width(), pixmap.height());
    match format {
        Format::Png => png_into(pixmap, options, backdrop, buffers).map_err(fail)?,
        Format::Jpeg => {
            let (w, h) = (
                u16::try_from(width).map_err(|_| fail("too wide for JPEG".into()))?,
                u16::try_from(height).map_err(|_| fail("too tall for JPEG".into()))?,
            );
            let (pixels, file) = buffers.cleared();
            over_white(pixmap, pixels);
            jpeg_encoder::Encoder::new(file, options.jpeg_quality)
                .encode(pixels, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| fail(e.to_string()))?;
        }
        Format::Webp => {
            let (pixels, file) = buffers.cleared();
            let color = match straight_pixels(pixmap, pixels) {
                Channels::Rgb => image_webp::ColorType::Rgb8,
                Channels::Rgba => image_webp::ColorType::Rgba8,
            };
            image_webp::WebPEncoder::new(file)
                .encode(pixels, width, height, color)
                .map_err(|e| fail(e.to_string()))?;
        }
        Format::Svg => return Err(fail("SVG output is not rasterised".into())),
    }
    Ok(&buffers.file)
}

/// PNG into `buffers.file`. Over a backdrop, untouched rows come from its compressed blocks
/// and the rest are compressed unfiltered; levels 3 to 9 also try the whole image with
/// adaptive filters (better for photos) and keep the smaller file.
fn png_into(
    pixmap: &Pixmap,
    options: EncodeOptions,
    backdrop: Option<&Backdrop>,
    buffers: &mut Buffers,
) -> Result<(), String> {
    let over_backdrop = match backdrop {
        Some(backdrop) => png_over_backdrop(pixmap, backdrop, options, buffers)?,
        None => false,
    };
    if over_backdrop && UNFILTERED_LEVELS.contains(&options.png_compression) {
        return Ok(());
    }
    let Buffers {
        pixels,
        file,
        spare,
        ..
    } = buffers;
    let out = if over_backdrop {
        &mut *spare
    } else {
        &mut *file
    };
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
    if over_backdrop && spare.len() < file.len() {
        std::mem::swap(file, spare);
    }
    Ok(())
}

/// Rows per block of a [`Backdrop`]: a block is compressed on its own (no back-references
/// into its neighbours), so that an untouched one can be copied into any image.
const BLOCK_ROWS: usize = 16;

/// The zlib level a backdrop's blocks are compressed at: done once, so the best.
const BACKDROP_LEVEL: u32 = 9;

/// The PNG compression levels that never filter rows (a backdrop's rows are unfiltered).
const UNFILTERED_LEVELS: std::ops::RangeInclusive<u8> = 1..=2;

/// The pixels every render of a template starts from (its background, drawn once at load),
/// with their PNG rows compressed once in blocks of [`BLOCK_ROWS`]: encoding a render over it
/// compresses only the blocks the render drew on and copies the others.
pub struct Backdrop {
    pixmap: Pixmap,
    /// The compressed blocks, top to bottom; none when the pixmap is not opaque.
    blocks: Vec<Block>,
}

/// One block of a backdrop's PNG rows (filter byte 0 then RGB): raw deflate ending in a
/// sync flush, and the Adler-32 and length of the rows it holds.
struct Block {
    deflated: Vec<u8>,
    adler: u32,
    len: u64,
}

impl std::fmt::Debug for Backdrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (w, h) = (self.pixmap.width(), self.pixmap.height());
        let bytes: usize = self.blocks.iter().map(|b| b.deflated.len()).sum();
        write!(f, "Backdrop({w}x{h}, {bytes} bytes of PNG rows)")
    }
}

impl Backdrop {
    /// Compresses `pixmap`'s rows, if it is opaque (else the backdrop only holds pixels).
    pub fn new(pixmap: Pixmap) -> Backdrop {
        let mut blocks = Vec::new();
        if is_opaque(pixmap.data()) {
            let mut compress = Compress::new(Compression::new(BACKDROP_LEVEL), false);
            let mut rows = Vec::new();
            for rgba in pixmap.data().chunks(row_bytes(&pixmap) * BLOCK_ROWS) {
                rows.clear();
                unfiltered_rgb_rows(rgba, pixmap.width() as usize, &mut rows);
                let mut deflated = Vec::new();
                compress.reset();
                deflate(&mut compress, &rows, &mut deflated, FlushCompress::Sync)
                    .expect("deflating into a growing Vec cannot fail");
                blocks.push(Block {
                    deflated,
                    adler: zlib_rs::adler32::adler32(1, &rows),
                    len: rows.len() as u64,
                });
            }
        }
        Backdrop { pixmap, blocks }
    }

    /// The pixels.
    pub fn pixmap(&self) -> &Pixmap {
        &self.pixmap
    }
}

fn row_bytes(pixmap: &Pixmap) -> usize {
    pixmap.width() as usize * 4
}

/// Appends premultiplied opaque RGBA rows of `width` pixels as PNG rows without a filter.
fn unfiltered_rgb_rows(rgba: &[u8], width: usize, out: &mut Vec<u8>) {
    for row in rgba.chunks_exact(width * 4) {
        out.push(0); // filter type None
        rgb_into(row, out);
    }
}

/// Deflates all of `input` onto `out`, then flushes as `flush` says.
fn deflate(
    compress: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> Result<(), flate2::CompressError> {
    loop {
        out.reserve(input.len() / 2 + 1024);
        let before = compress.total_in();
        let status = compress.compress_vec(input, out, flush)?;
        input = &input[(compress.total_in() - before) as usize..];
        // zlib has flushed everything once it returns with output space to spare.
        if status == flate2::Status::StreamEnd || (input.is_empty() && out.len() < out.capacity()) {
            return Ok(());
        }
    }
}

/// Writes `pixmap` as PNG into `buffers.file` from `backdrop`'s compressed blocks wherever
/// its rows equal the backdrop's, compressing the others. Returns `false`, having written
/// nothing, when this does not apply: another size or translucent pixels. Rows are
/// compressed unfiltered at zlib's `compression` level (1 is its quick pass).
fn png_over_backdrop(
    pixmap: &Pixmap,
    backdrop: &Backdrop,
    options: EncodeOptions,
    buffers: &mut Buffers,
) -> Result<bool, String> {
    let level = options.png_compression.clamp(1, 9);
    if backdrop.blocks.is_empty()
        || pixmap.width() != backdrop.pixmap.width()
        || pixmap.height() != backdrop.pixmap.height()
    {
        return Ok(false);
    }
    let Buffers {
        pixels,
        deflated,
        file,
        compress,
        ..
    } = buffers;
    let compress = match compress {
        Some((kept, compress)) if *kept == level => compress,
        _ => {
            &mut compress
                .insert((level, Compress::new(Compression::new(level.into()), false)))
                .1
        }
    };
    deflated.clear();
    deflated.extend_from_slice(&[0x78, 0x5e]); // zlib header: deflate, 32 KiB window
    let mut adler = 1;
    // The compressor holds the last image's state, and after a copied block its history must
    // not be referenced: reset it (a 128 KiB clear) before it next compresses.
    let mut stale = true;
    let block_bytes = row_bytes(pixmap) * BLOCK_ROWS;
    let drawn = || pixmap.data().chunks(block_bytes);
    let touched: Vec<bool> = (drawn().zip(backdrop.pixmap.data().chunks(block_bytes)))
        .map(|(drawn, under)| drawn != under)
        .collect();
    for (i, (drawn, block)) in drawn().zip(&backdrop.blocks).enumerate() {
        if !touched[i] {
            deflated.extend_from_slice(&block.deflated);
            adler = zlib_rs::adler32::adler32_combine(adler, block.adler, block.len);
            stale = true;
            continue;
        }
        if !is_opaque(drawn) {
            return Ok(false);
        }
        pixels.clear();
        unfiltered_rgb_rows(drawn, pixmap.width() as usize, pixels);
        if std::mem::take(&mut stale) {
            compress.reset();
        }
        // One deflate stream through a run of touched blocks, byte-aligned where it ends.
        let flush = match touched.get(i + 1) {
            Some(true) => FlushCompress::None,
            Some(false) => FlushCompress::Sync,
            None => FlushCompress::Finish,
        };
        deflate(compress, pixels, deflated, flush).map_err(|e| e.to_string())?;
        adler = zlib_rs::adler32::adler32(adler, pixels);
    }
    if touched.last() == Some(&false) {
        // The last block was copied (so the compressor is stale): end the stream with an
        // empty final block.
        compress.reset();
        deflate(compress, &[], deflated, FlushCompress::Finish).map_err(|e| e.to_string())?;
    }
    deflated.extend_from_slice(&adler.to_be_bytes());

    file.clear();
    let encoder = png_encoder(
        &mut *file,
        pixmap.width(),
        pixmap.height(),
        Channels::Rgb,
        options,
    );
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    for chunk in deflated.chunks(IDAT_BYTES) {
        writer
            .write_chunk(png::chunk::IDAT, chunk)
            .map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?;
    Ok(true)
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

    /// A 40x50 opaque pattern in four blocks, the last one of 2 rows. The first and last
    /// blocks hold the same rows and the middle ones others, so that a back-reference from
    /// the last block into the first decodes wrongly if the middle blocks are copied in.
    fn backdrop_pixmap() -> Pixmap {
        let mut pixmap = Pixmap::new(40, 50).unwrap();
        for (i, pixel) in pixmap.pixels_mut().iter_mut().enumerate() {
            let (x, y) = (i % 40, i / 40);
            let middle = if (1..=2).contains(&(y / BLOCK_ROWS)) {
                100
            } else {
                0
            };
            let (x, y) = (x as u8, (y % BLOCK_ROWS) as u8);
            *pixel = tiny_skia::ColorU8::from_rgba(x * 6, y * 5 + middle, (x ^ y) * 3, 255)
                .premultiply();
        }
        pixmap
    }

    /// Colour type and pixels, with the zlib stream's Adler-32 checked (png skips it).
    fn decode(png: &[u8]) -> (png::ColorType, Vec<u8>) {
        let mut options = png::DecodeOptions::default();
        options.set_ignore_adler32(false);
        let mut reader = png::Decoder::new_with_options(std::io::Cursor::new(png), options)
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        pixels.truncate(info.buffer_size());
        (info.color_type, pixels)
    }

    #[test]
    fn a_png_over_a_backdrop_has_the_pixels_of_a_png_encoded_whole() {
        let backdrop = Backdrop::new(backdrop_pixmap());
        let mut buffers = Buffers::default();
        let red = tiny_skia::ColorU8::from_rgba(255, 0, 0, 255).premultiply();
        // Pixels drawn on: none, one block, the first and the partial last, every block; at
        // both levels, alternating (a kept compressor changes level). One `Buffers` for all,
        // as a render thread keeps it.
        let drawings = [
            &[][..],
            &[20 * 40 + 3],
            &[0, 49 * 40 + 39],
            &[5, 700, 1300, 1999],
        ];
        for (drawn, level) in drawings.iter().flat_map(|d| [(d, 1), (d, 2), (d, 2)]) {
            let mut pixmap = backdrop_pixmap();
            for &i in drawn.iter() {
                pixmap.pixels_mut()[i] = red;
            }
            let options = EncodeOptions::png(level);
            let whole = encode(&pixmap, Format::Png, options).unwrap();
            let applied = png_over_backdrop(&pixmap, &backdrop, options, &mut buffers);
            assert_eq!(applied, Ok(true), "level {level}, drawn at {drawn:?}");
            assert_eq!(
                decode(&buffers.file),
                decode(&whole),
                "level {level}, pixels drawn at {drawn:?}"
            );
        }
    }

    #[test]
    fn a_backdrop_is_only_used_where_its_rows_fit() {
        let backdrop = Backdrop::new(backdrop_pixmap());
        let mut buffers = Buffers::default();
        let mut translucent = backdrop_pixmap();
        translucent.pixels_mut()[900] = tiny_skia::ColorU8::from_rgba(0, 0, 0, 0).premultiply();
        let other_size = Pixmap::new(40, 49).unwrap();
        for (pixmap, options, why) in [
            (&translucent, EncodeOptions::default(), "translucent pixels"),
            (&other_size, EncodeOptions::default(), "another size"),
        ] {
            let applied = png_over_backdrop(pixmap, &backdrop, options, &mut buffers);
            assert_eq!(applied, Ok(false), "{why}");
            let file = encode_with(pixmap, Format::Png, options, Some(&backdrop), &mut buffers);
            let whole = encode(pixmap, Format::Png, options).unwrap();
            assert_eq!(decode(file.unwrap()), decode(&whole), "{why}");
        }
    }

    #[test]
    fn filtered_levels_over_a_backdrop_keep_the_smaller_file() {
        let backdrop = Backdrop::new(backdrop_pixmap());
        let mut buffers = Buffers::default();
        let mut pixmap = backdrop_pixmap();
        pixmap.pixels_mut()[700] = tiny_skia::ColorU8::from_rgba(0, 0, 255, 255).premultiply();
        for level in 3..=9 {
            let options = EncodeOptions::png(level);
            let filtered = encode(&pixmap, Format::Png, options).unwrap();
            let applied = png_over_backdrop(&pixmap, &backdrop, options, &mut buffers);
            assert_eq!(applied, Ok(true), "level {level}");
            let unfiltered = buffers.file.clone();
            let kept = encode_with(&pixmap, Format::Png, options, Some(&backdrop), &mut buffers);
            let kept = kept.unwrap();
            assert_eq!(
                kept.len(),
                filtered.len().min(unfiltered.len()),
                "level {level}"
            );
            assert_eq!(decode(kept), decode(&filtered), "level {level}");
        }
    }
}
