//! PNG rows in blocks: a backdrop's rows compressed once, and the encoder that writes an
//! opaque image block by block, copying the blocks a backdrop already holds.
//!
//! Each block is raw deflate of [`BLOCK_ROWS`] rows, compressed on its own (no
//! back-references into its neighbours) and ending in a sync flush, with its own Adler-32, so
//! any block can be copied into any image and the checksums combined (zlib-rs
//! `adler32_combine`). A block's bytes depend only on its rows and level, so an image written
//! in blocks is the same file whether its blocks were compressed now or copied.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flate2::{Compress, Compression, FlushCompress};
use rayon::prelude::*;
use tiny_skia::Pixmap;

use super::jpeg::Pieces;
use super::options::{Buffers, EncodeOptions};
use super::pixels::{Channels, is_opaque, paeth_rgb_rows, row_bytes, unfiltered_rgb_rows};
use super::png::{IDAT_BYTES, png_encoder};
use super::vp8::Bands;

/// Rows per block: a block is compressed on its own, so that an untouched one can be copied
/// into any image.
const BLOCK_ROWS: usize = 16;

/// The zlib level a template background's blocks are compressed at: done once, so the best.
const BACKDROP_LEVEL: u8 = 9;

/// The pixels a render starts from (a background), with their PNG rows compressed once in
/// blocks of [`BLOCK_ROWS`]: encoding a render over it compresses only the blocks the render
/// drew on and copies the others.
pub struct Backdrop {
    /// Unique in the process: tells a canvas that holds these pixels (see
    /// [`crate::raster::Canvas`]) from one that holds another backdrop's.
    id: u64,
    pixmap: Pixmap,
    blocks: Blocks,
    /// Its JPEG pieces at the quality last asked for, encoded at the first JPEG over it.
    jpeg: Mutex<Option<(u8, Arc<Pieces>)>>,
    /// Its lossy WebP bands at the quality last asked for, coded at the first WebP over it.
    webp: Mutex<Option<(u8, Arc<Bands>)>>,
}

/// A backdrop's compressed rows, and when a render may copy them.
enum Blocks {
    /// None: the pixmap is not opaque.
    None,
    /// Compressed at [`BACKDROP_LEVEL`] with Paeth filters when a template loads: every
    /// render of the template copies them, at any level, so its files never depend on
    /// anything else.
    Fixed(Vec<Block>),
    /// Compressed as an image written in blocks at `level` compresses them: copied only into
    /// images written at that level, which are then the files they would be without them.
    Same { level: u8, blocks: Vec<Block> },
}

/// One block of PNG rows (each a filter byte then RGB): raw deflate ending in a sync flush,
/// and the Adler-32 and length of the rows it holds.
struct Block {
    deflated: Vec<u8>,
    adler: u32,
    len: u64,
}

/// The backdrop an image was drawn over, and the rows the drawing may have changed: every
/// other row holds the backdrop's pixels, so its PNG blocks and JPEG pieces there are copied
/// without comparing pixels.
#[derive(Clone, Copy)]
pub struct Over<'a> {
    /// The backdrop.
    pub backdrop: &'a Backdrop,
    /// Rows that may differ from the backdrop's.
    pub changed: &'a [Range<u32>],
}

impl<'a> Over<'a> {
    /// Over `backdrop`, any row possibly changed (every block is compared).
    pub fn anywhere(backdrop: &'a Backdrop) -> Over<'a> {
        Over {
            backdrop,
            changed: crate::raster::EVERY_ROW,
        }
    }

    /// Whether rows `rows` may differ from the backdrop's.
    pub(super) fn may_change(&self, rows: Range<u32>) -> bool {
        crate::raster::any_meets(self.changed, rows)
    }
}

impl std::fmt::Debug for Backdrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (w, h) = (self.pixmap.width(), self.pixmap.height());
        write!(
            f,
            "Backdrop({w}x{h}, {} bytes of PNG rows)",
            self.row_bytes()
        )
    }
}

impl Backdrop {
    /// A template's background: rows compressed at the best level, copied by every render
    /// over it (if the pixmap is opaque; else the backdrop only holds pixels).
    pub fn new(pixmap: Pixmap) -> Backdrop {
        let blocks = compress_blocks(&pixmap, BACKDROP_LEVEL, Filter::Paeth)
            .map_or(Blocks::None, Blocks::Fixed);
        Backdrop::with_blocks(pixmap, blocks)
    }

    fn with_blocks(pixmap: Pixmap, blocks: Blocks) -> Backdrop {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Backdrop {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            pixmap,
            blocks,
            jpeg: Mutex::default(),
            webp: Mutex::default(),
        }
    }

    /// A background found while rendering: rows compressed as an image written in blocks at
    /// `level` compresses them, so that a render's file is the one it would be without it.
    pub fn same_as_drawn(pixmap: Pixmap, level: u8) -> Backdrop {
        let level = level.clamp(1, 9);
        let blocks = compress_blocks(&pixmap, level, Filter::None)
            .map_or(Blocks::None, |blocks| Blocks::Same { level, blocks });
        Backdrop::with_blocks(pixmap, blocks)
    }

    /// The pixels.
    pub fn pixmap(&self) -> &Pixmap {
        &self.pixmap
    }

    /// Its id, unique in the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Bytes of compressed rows held.
    pub fn row_bytes(&self) -> usize {
        let blocks = match &self.blocks {
            Blocks::None => return 0,
            Blocks::Fixed(blocks) | Blocks::Same { blocks, .. } => blocks,
        };
        blocks.iter().map(|b| b.deflated.len()).sum()
    }

    /// Bytes it holds: pixels, compressed rows, and the JPEG pieces and WebP bands made for
    /// the renders over it so far.
    pub fn bytes(&self) -> usize {
        let pieces = weigh_kept(&self.jpeg, Pieces::bytes);
        let bands = weigh_kept(&self.webp, Bands::bytes);
        self.pixmap.data().len() + self.row_bytes() + pieces + bands
    }

    /// The blocks an image written at `level` may copy.
    fn blocks_for(&self, level: u8) -> Option<&[Block]> {
        match &self.blocks {
            Blocks::Fixed(blocks) => Some(blocks),
            Blocks::Same { level: at, blocks } if *at == level.clamp(1, 9) => Some(blocks),
            _ => None,
        }
    }

    /// Its JPEG pieces at `quality` (see [`jpeg`](super::jpeg)): a piece's bytes depend
    /// only on its pixels and quality, so any JPEG over it may copy them.
    pub(super) fn jpeg_pieces(&self, quality: u8) -> Result<Arc<Pieces>, String> {
        at_quality(&self.jpeg, quality, || {
            super::jpeg::pieces(&self.pixmap, quality)
        })
    }

    /// Whether its pixels are opaque.
    pub(super) fn is_opaque(&self) -> bool {
        !matches!(self.blocks, Blocks::None)
    }

    /// Its lossy WebP bands at `quality` (see [`vp8`](super::vp8)), coded at the first
    /// request for them; `None` if its pixels are not opaque.
    pub(super) fn webp_bands(&self, quality: u8) -> Result<Option<Arc<Bands>>, String> {
        if !self.is_opaque() {
            return Ok(None);
        }
        at_quality(&self.webp, quality, || Bands::new(&self.pixmap, quality)).map(Some)
    }

    /// Whether a render at `level` over this backdrop copies its blocks.
    pub(super) fn has_blocks_for(&self, level: u8) -> bool {
        self.blocks_for(level).is_some()
    }
}

/// The bytes of what `kept` holds, as `weigh` counts them (0 if it holds nothing).
fn weigh_kept<T>(kept: &Mutex<Option<(u8, Arc<T>)>>, weigh: impl Fn(&T) -> usize) -> usize {
    let kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    kept.as_ref().map_or(0, |(_, made)| weigh(made))
}

/// What `kept` holds if it was made at `quality`, else what `make` makes, kept in its place.
///
/// `make` runs without the lock: it works in parallel (rayon), and a rayon worker waiting
/// there may take up another render over this backdrop (`vellum batch` renders rows on
/// rayon), which would then wait on this lock held by its own thread. Two renders that need
/// it at once may both make it; both make the same bytes.
fn at_quality<T>(
    kept: &Mutex<Option<(u8, Arc<T>)>>,
    quality: u8,
    make: impl FnOnce() -> Result<T, String>,
) -> Result<Arc<T>, String> {
    let lock = || kept.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, made)) = &*lock()
        && *at == quality
    {
        return Ok(made.clone());
    }
    let made = Arc::new(make()?);
    let mut kept = lock();
    match &*kept {
        Some((at, theirs)) if *at == quality => Ok(theirs.clone()),
        _ => {
            *kept = Some((quality, made.clone()));
            Ok(made)
        }
    }
}

/// `pixmap`'s rows compressed block by block at `level`, or none if it is not opaque.
fn compress_blocks(pixmap: &Pixmap, level: u8, filter: Filter) -> Option<Vec<Block>> {
    if !is_opaque(pixmap.data()) {
        return None;
    }
    let width = pixmap.width() as usize;
    let blocks = (pixmap.data().par_chunks(row_bytes(pixmap) * BLOCK_ROWS))
        .map(|rgba| Block::compress(rgba, width, level, filter))
        .collect();
    Some(blocks)
}

/// How a block's rows are filtered before they are compressed.
#[derive(Clone, Copy)]
enum Filter {
    /// Not at all: quickest, for blocks compressed per render.
    None,
    /// Paeth, except the block's first row, which takes Sub (it may follow rows of another
    /// image): much smaller for gradients, for blocks compressed once.
    Paeth,
}

/// A compressor (zlib's state is a few hundred KB) with its level, and the rows it last
/// compressed.
type Compressor = (Option<(u8, Compress)>, Vec<u8>);

thread_local! {
    /// This thread's compressor, kept for its next block.
    static COMPRESSOR: RefCell<Compressor> = RefCell::default();
}

impl Block {
    /// Opaque premultiplied RGBA rows of `width` pixels as one block at `level`: from a
    /// fresh state, ending in a sync flush, so its bytes depend only on the rows and level.
    fn compress(rgba: &[u8], width: usize, level: u8, filter: Filter) -> Block {
        COMPRESSOR.with_borrow_mut(|(compress, rows)| {
            let compress = match compress {
                Some((kept, compress)) if *kept == level => compress,
                _ => {
                    let fresh = Compress::new(Compression::new(level.into()), false);
                    &mut compress.insert((level, fresh)).1
                }
            };
            rows.clear();
            match filter {
                Filter::None => unfiltered_rgb_rows(rgba, width, rows),
                Filter::Paeth => paeth_rgb_rows(rgba, width, rows),
            }
            let mut deflated = Vec::with_capacity(rows.len() / 4);
            compress.reset();
            deflate_and_sync(compress, rows, &mut deflated)
                .expect("deflating into a growing Vec cannot fail");
            Block {
                deflated,
                adler: zlib_rs::adler32::adler32(1, rows),
                len: rows.len() as u64,
            }
        })
    }
}

/// Deflates all of `input` onto `out`, ending in a sync flush (byte-aligned, stream open).
fn deflate_and_sync(
    compress: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), flate2::CompressError> {
    loop {
        out.reserve(input.len() / 2 + 1024);
        let before = compress.total_in();
        compress.compress_vec(input, out, FlushCompress::Sync)?;
        input = &input[(compress.total_in() - before) as usize..];
        // zlib has flushed everything once it returns with output space to spare.
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(());
        }
    }
}

/// Writes opaque `pixmap` as PNG into `buffers.file` in blocks, each compressed on its own
/// at the options' level (unfiltered; 1 is zlib's quick pass), copying `backdrop`'s blocks
/// wherever the rows equal its own and it holds blocks for this level. Blocks are compressed
/// in parallel (the file does not depend on it). Returns `false`, having written no file,
/// when the pixmap is not opaque.
pub(super) fn png_in_blocks(
    pixmap: &Pixmap,
    options: EncodeOptions,
    over: Option<&Over>,
    buffers: &mut Buffers,
) -> Result<bool, String> {
    let level = options.png_compression.clamp(1, 9);
    let block_bytes = row_bytes(pixmap) * BLOCK_ROWS;
    // The backdrop's rows beside its blocks, where they fit this image.
    let copyable = over
        .filter(|o| {
            let b = &o.backdrop.pixmap;
            b.width() == pixmap.width() && b.height() == pixmap.height()
        })
        .and_then(|o| {
            let rows = o.backdrop.pixmap.data().chunks(block_bytes);
            Some((o, rows.zip(o.backdrop.blocks_for(level)?)))
        });
    let copied: Vec<Option<&Block>> = match copyable {
        Some((over, under)) => (pixmap.data().chunks(block_bytes).zip(under).enumerate())
            .map(|(i, (drawn, (rows, block)))| {
                let at = (i * BLOCK_ROWS) as u32..((i + 1) * BLOCK_ROWS) as u32;
                (!over.may_change(at) || rows == drawn).then_some(block)
            })
            .collect(),
        None => vec![None; pixmap.data().len().div_ceil(block_bytes)],
    };
    let width = pixmap.width() as usize;
    let compressed: Option<Vec<Option<Block>>> = (pixmap.data().par_chunks(block_bytes))
        .zip(&copied)
        .map(|(drawn, copy)| match copy {
            Some(_) => Some(None),
            None if is_opaque(drawn) => {
                Some(Some(Block::compress(drawn, width, level, Filter::None)))
            }
            None => None,
        })
        .collect();
    let Some(compressed) = compressed else {
        return Ok(false);
    };
    let Buffers { deflated, file, .. } = buffers;
    deflated.clear();
    deflated.extend_from_slice(&[0x78, 0x5e]); // zlib header: deflate, 32 KiB window
    let mut adler = 1;
    for block in copied
        .iter()
        .zip(&compressed)
        .filter_map(|(c, d)| c.or(d.as_ref()))
    {
        deflated.extend_from_slice(&block.deflated);
        adler = zlib_rs::adler32::adler32_combine(adler, block.adler, block.len);
    }
    // End the stream with an empty final block (fixed Huffman codes, end of block: 03 00).
    deflated.extend_from_slice(&[0x03, 0x00]);
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

    #[test]
    fn what_a_backdrop_keeps_is_made_without_holding_its_lock() {
        // A rayon worker waiting inside `make` may take up another render over the same
        // backdrop on its own thread: that render must not wait on a lock the thread holds.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let kept = Mutex::new(None);
            let outer = at_quality(&kept, 80, || {
                let inner = at_quality(&kept, 80, || Ok(7)).unwrap();
                Ok(*inner)
            });
            let again = at_quality(&kept, 80, || Err("made twice".to_string()));
            done.send((outer.map(|v| *v), again.map(|v| *v))).unwrap();
        });
        let made = finished.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(
            made,
            Ok((Ok(7), Ok(7))),
            "a render inside `make` waited forever"
        );
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
            let applied = png_in_blocks(
                &pixmap,
                options,
                Some(&Over::anywhere(&backdrop)),
                &mut buffers,
            );
            assert_eq!(applied, Ok(true), "level {level}, drawn at {drawn:?}");
            assert_eq!(
                decode(&buffers.file),
                decode(&whole),
                "level {level}, pixels drawn at {drawn:?}"
            );
        }
    }

    #[test]
    fn a_backdrop_is_only_copied_where_its_rows_fit() {
        let backdrop = Backdrop::new(backdrop_pixmap());
        let mut buffers = Buffers::default();
        let mut translucent = backdrop_pixmap();
        translucent.pixels_mut()[900] = tiny_skia::ColorU8::from_rgba(0, 0, 0, 0).premultiply();
        let applied = png_in_blocks(
            &translucent,
            EncodeOptions::default(),
            Some(&Over::anywhere(&backdrop)),
            &mut buffers,
        );
        assert_eq!(
            applied,
            Ok(false),
            "translucent pixels are not written in blocks"
        );
        let mut other_size = Pixmap::new(40, 49).unwrap();
        other_size.fill(tiny_skia::Color::from_rgba8(200, 10, 10, 255));
        for (pixmap, why) in [
            (&translucent, "translucent pixels"),
            (&other_size, "another size"),
        ] {
            let options = EncodeOptions::default();
            let file = encode_with(
                pixmap,
                Format::Png,
                options,
                Some(Over::anywhere(&backdrop)),
                &mut buffers,
            );
            let without = encode(pixmap, Format::Png, options).unwrap();
            assert!(
                file.unwrap() == without,
                "{why}: the backdrop changed the file"
            );
        }
    }

    #[test]
    fn a_backdrop_found_while_rendering_changes_no_file() {
        let found = Backdrop::same_as_drawn(backdrop_pixmap(), 2);
        let mut buffers = Buffers::default();
        let blue = tiny_skia::ColorU8::from_rgba(0, 0, 255, 255).premultiply();
        // Drawn on nowhere, in one block, everywhere; at the level its blocks were compressed
        // at (copied) and at others (not copied): the file is the one written without it.
        for drawn in [&[][..], &[700], &[5, 700, 1300, 1999]] {
            for level in [1, 2, 4] {
                let mut pixmap = backdrop_pixmap();
                for &i in drawn {
                    pixmap.pixels_mut()[i] = blue;
                }
                let options = EncodeOptions::png(level);
                let over = encode_with(
                    &pixmap,
                    Format::Png,
                    options,
                    Some(Over::anywhere(&found)),
                    &mut buffers,
                );
                let without = encode(&pixmap, Format::Png, options).unwrap();
                assert!(
                    over.unwrap() == without,
                    "level {level}, drawn at {drawn:?}"
                );
            }
        }
        // Its blocks are copied, not compressed again: a backdrop with other rows under the
        // same pixels gives another file.
        let mut other = backdrop_pixmap();
        other.pixels_mut()[0] = blue;
        let mut wrong = Backdrop::same_as_drawn(other, 2);
        wrong.pixmap = backdrop_pixmap();
        let pixmap = backdrop_pixmap();
        let options = EncodeOptions::default();
        let over = encode_with(
            &pixmap,
            Format::Png,
            options,
            Some(Over::anywhere(&wrong)),
            &mut buffers,
        )
        .unwrap()
        .to_vec();
        assert!(over != encode(&pixmap, Format::Png, options).unwrap());
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
            let applied = png_in_blocks(
                &pixmap,
                options,
                Some(&Over::anywhere(&backdrop)),
                &mut buffers,
            );
            assert_eq!(applied, Ok(true), "level {level}");
            let unfiltered = buffers.file.clone();
            let kept = encode_with(
                &pixmap,
                Format::Png,
                options,
                Some(Over::anywhere(&backdrop)),
                &mut buffers,
            );
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
