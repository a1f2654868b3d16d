//! The VP8 key frame's bytes (RFC 6386 sections 9, 13 and 19): the header and every
//! macroblock's modes in the first partition, the coefficient tokens in token partitions
//! (macroblock row `r` in partition `r % n`, written in parallel), in a RIFF WebP file.

use rayon::prelude::*;

use super::band::{self, BAND_ROWS, Band};
use super::bool_writer::BoolWriter;
use super::macroblock::{Coded, Mode, Quant};
use super::tables::{COEFF_PROBS, COEFF_UPDATE_PROBS, TokenProbs};
use super::tokens::{self, Counts, Writer};

/// Token partitions (a power of two up to 8): one per render thread.
const PARTITIONS: usize = 2;

/// A coded frame: its size, quantizer and bands of macroblocks.
pub(super) struct Frame<'a> {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) quant: &'a Quant,
    pub(super) bands: &'a [&'a Band],
}

impl Frame<'_> {
    fn mbw(&self) -> usize {
        band::macroblocks(self.width, self.height).0
    }

    fn mbh(&self) -> usize {
        band::macroblocks(self.width, self.height).1
    }

    /// Macroblock row `mby` and its band's levels.
    fn row(&self, mby: usize) -> (&[Coded], &[[i16; 16]]) {
        let band = self.bands[mby / BAND_ROWS];
        let start = (mby % BAND_ROWS) * self.mbw();
        (&band.coded[start..start + self.mbw()], &band.levels)
    }

    /// Writes the WebP file into `out` (cleared).
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        let mut counts = Counts::default();
        for band in self.bands {
            counts.add(&band.counts);
        }
        let probs = counts.probabilities();
        let first = self.first_partition(&probs);
        let tokens: Vec<Vec<u8>> = (0..PARTITIONS)
            .into_par_iter()
            .map(|p| self.tokens(p, &probs))
            .collect();
        let vp8_len =
            10 + first.len() + 3 * (PARTITIONS - 1) + tokens.iter().map(Vec::len).sum::<usize>();
        out.clear();
        out.reserve(20 + vp8_len + 1);
        out.extend_from_slice(b"RIFF");
        let padded = vp8_len + vp8_len % 2;
        out.extend_from_slice(&((4 + 8 + padded) as u32).to_le_bytes());
        out.extend_from_slice(b"WEBPVP8 ");
        out.extend_from_slice(&(vp8_len as u32).to_le_bytes());
        // Frame tag: key frame, version 0, shown, first partition's size.
        let tag = (1 << 4) | ((first.len() as u32) << 5);
        out.extend_from_slice(&tag.to_le_bytes()[..3]);
        out.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        out.extend_from_slice(&(self.width as u16).to_le_bytes());
        out.extend_from_slice(&(self.height as u16).to_le_bytes());
        out.extend_from_slice(&first);
        for partition in &tokens[..PARTITIONS - 1] {
            out.extend_from_slice(&(partition.len() as u32).to_le_bytes()[..3]);
        }
        for partition in &tokens {
            out.extend_from_slice(partition);
        }
        if vp8_len % 2 == 1 {
            out.push(0);
        }
    }

    /// The frame header and every macroblock's skip flag and modes.
    fn first_partition(&self, probs: &TokenProbs) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(4096);
        let mut w = BoolWriter::new(&mut bytes);
        w.put_literal(0, 1); // colour space: YUV
        w.put_literal(0, 1); // clamping: the decoder clamps
        w.put_literal(0, 1); // no segments
        w.put_literal(0, 1); // the normal loop filter
        w.put_literal(filter_level(self.quant), 6);
        w.put_literal(0, 3); // sharpness
        w.put_literal(0, 1); // no filter adjustments per mode
        w.put_literal(PARTITIONS.trailing_zeros(), 2);
        w.put_literal(u32::from(self.quant.index), 7);
        for _ in 0..5 {
            w.put_literal(0, 1); // no quantizer deltas
        }
        w.put_literal(0, 1); // refresh_entropy_probs (one frame: no matter)
        fn flat(t: &TokenProbs) -> &[u8] {
            t.as_flattened().as_flattened().as_flattened()
        }
        let nodes = flat(&COEFF_UPDATE_PROBS).iter().zip(flat(&COEFF_PROBS));
        for ((&update, &default), &prob) in nodes.zip(flat(probs)) {
            w.put(prob != default, update);
            if prob != default {
                w.put_literal(u32::from(prob), 8);
            }
        }
        let total = self.mbw() * self.mbh();
        let skipped = (self.bands.iter())
            .flat_map(|band| &band.coded)
            .filter(|coded| coded.nonzero == 0)
            .count();
        let skip_prob = ((total - skipped) * 255 / total.max(1)).clamp(1, 255) as u8;
        w.put_literal(1, 1); // macroblocks without coefficients are flagged
        w.put_literal(u32::from(skip_prob), 8);
        for coded in self.bands.iter().flat_map(|band| &band.coded) {
            w.put(coded.nonzero == 0, skip_prob);
            put_modes(&mut w, coded);
        }
        w.finish();
        bytes
    }

    /// Token partition `p`: the tokens of macroblock rows `p`, `p + PARTITIONS`, ... The
    /// writer is a local variable here, and the token code inlined into this loop, so that
    /// the compiler keeps its interval in registers rather than in memory.
    fn tokens(&self, p: usize, probs: &TokenProbs) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(16 * 1024);
        let mut writer = Writer::new(BoolWriter::new(&mut bytes), probs);
        for mby in (p..self.mbh()).step_by(PARTITIONS) {
            let above = (mby > 0).then(|| self.row(mby - 1).0);
            let (row, levels) = self.row(mby);
            tokens::put_row(&mut writer, above, row, levels);
        }
        writer.finish();
        bytes
    }
}

/// Writes a macroblock's luma and chroma modes with the key-frame trees' fixed
/// probabilities (RFC 6386 11.2).
fn put_modes(w: &mut BoolWriter, coded: &Coded) {
    // Luma: B_PRED "0" (never used here), DC "100", V "101", H "110", TM "111".
    let (a, b) = match coded.y_mode {
        Mode::Dc => (false, false),
        Mode::V => (false, true),
        Mode::H => (true, false),
        Mode::Tm => (true, true),
    };
    w.put(true, 145);
    w.put(a, 156);
    w.put(b, if a { 128 } else { 163 });
    // Chroma: DC "0", V "10", H "110", TM "111".
    w.put(coded.uv_mode != Mode::Dc, 142);
    if coded.uv_mode != Mode::Dc {
        w.put(coded.uv_mode != Mode::V, 114);
        if coded.uv_mode != Mode::V {
            w.put(coded.uv_mode == Mode::Tm, 183);
        }
    }
}

/// The loop filter's level at `quant`, about libwebp's at its default strength.
fn filter_level(quant: &Quant) -> u32 {
    ((quant.luma_ac() * 2 + 2) / 5).clamp(0, 63) as u32
}
