//! A template background's PNG rows, compressed once in blocks, and the splicer that writes a
//! render over that background by copying the blocks it left untouched.
//!
//! Each block is raw deflate ending in a sync flush (no back-references into its neighbours)
//! with its own Adler-32, so any untouched block can be copied into any image and the
//! checksums combined (zlib-rs `adler32_combine`).

use flate2::{Compress, Compression, FlushCompress};
use tiny_skia::Pixmap;

use super::options::{Buffers, EncodeOptions};
use super::pixels::{Channels, is_opaque, row_bytes, unfiltered_rgb_rows};
use super::png::{IDAT_BYTES, png_encoder};

/// Rows per block of a [`Backdrop`]: a block is compressed on its own (no back-references
/// into its neighbours), so that an untouched one can be copied into any image.
const BLOCK_ROWS: usize = 16;

/// The zlib level a backdrop's blocks are compressed at: done once, so the best.
const BACKDROP_LEVEL: u32 = 9;

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

    /// Pixels only: encoding over it compresses every row, as without it.
    pub fn pixels_only(pixmap: Pixmap) -> Backdrop {
        Backdrop {
            pixmap,
            blocks: Vec::new(),
        }
    }

    /// The pixels.
    pub fn pixmap(&self) -> &Pixmap {
        &self.pixmap
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
pub(super) fn png_over_backdrop(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{encode, encode_with};
    use crate::format::Format;

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
