//! What an encode is told ([`EncodeOptions`]), what it reuses from one image to the next
//! ([`Buffers`]), and how it fails ([`EncodeError`]).

use crate::format::Format;

/// JPEG quality when a request gives none.
pub const DEFAULT_JPEG_QUALITY: u8 = 85;
/// Lossy WebP quality when a request gives none (measured on card A in `benches/render.rs`:
/// see the README's table).
pub const DEFAULT_WEBP_QUALITY: u8 = 80;
/// libwebp's effort, 0 (fastest) to 6 (smallest): 2 kept 4's size on card A at less than
/// half its time (`benches/render.rs`, 2026-12-01). Only images with transparency use it.
pub const WEBP_METHOD: i32 = 2;
/// PNG compression level when neither the request nor the server says: zlib level 2 without
/// filters, measured as the best time for the size on the bundled cards.
pub const DEFAULT_PNG_COMPRESSION: u8 = 2;

/// An encoder failure (it would be a bug: the inputs are checked before).
#[derive(Debug, thiserror::Error)]
#[error("{format:?} encoding failed: {message}")]
pub struct EncodeError {
    format: Format,
    message: String,
}

impl EncodeError {
    /// A failure to encode `format`, and why.
    pub(super) fn new(format: Format, message: String) -> EncodeError {
        EncodeError { format, message }
    }
}

/// Output settings that trade time for size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// JPEG quality, 1 to 100.
    pub jpeg_quality: u8,
    /// PNG compression level: 1 is fdeflate's single fast pass, 2 to 9 are zlib levels.
    pub png_compression: u8,
    /// WebP: lossy at this quality (1 to 100), or lossless when `None`.
    pub webp_quality: Option<u8>,
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
            jpeg_quality: DEFAULT_JPEG_QUALITY,
            png_compression: DEFAULT_PNG_COMPRESSION,
            webp_quality: Some(DEFAULT_WEBP_QUALITY),
        }
    }
}

/// Working memory an encoder reuses from one image to the next: the converted pixels and
/// the file. A server keeps one per render thread, so that multi-megabyte buffers are not
/// allocated and freed beside the long-lived cache on every render (which fragments the
/// heap until the process holds far more than the cache's budget).
#[derive(Default)]
pub struct Buffers {
    /// Pixels converted for the file format.
    pub(super) pixels: Vec<u8>,
    /// Compressed rows before they are framed as PNG chunks.
    pub(super) deflated: Vec<u8>,
    /// The file.
    pub(super) file: Vec<u8>,
    /// A second file, when two ways of encoding are tried.
    pub(super) spare: Vec<u8>,
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
    pub(super) fn cleared(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>) {
        self.pixels.clear();
        self.file.clear();
        (&mut self.pixels, &mut self.file)
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        let Buffers {
            pixels,
            deflated,
            file,
            spare,
        } = self;
        pixels.capacity() + deflated.capacity() + file.capacity() + spare.capacity()
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
