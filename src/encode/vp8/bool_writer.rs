//! VP8's boolean entropy coder (RFC 6386 section 7): each bool is coded with the probability
//! that it is 0, so likely bools cost a fraction of a bit.

use super::tables::Prob;

/// Writes bools into a byte vector, carrying into bytes already written as the format
/// requires.
pub(super) struct BoolWriter {
    out: Vec<u8>,
    /// The interval's width, 128 to 255 between calls.
    range: u32,
    /// The interval's low end: bits not yet written.
    low: u32,
    /// Shifts until the next byte is complete, minus 8 (negative while bits are pending).
    count: i32,
}

impl BoolWriter {
    /// An empty writer that appends to `out` (cleared).
    pub(super) fn new(mut out: Vec<u8>) -> BoolWriter {
        out.clear();
        BoolWriter {
            out,
            range: 255,
            low: 0,
            count: -24,
        }
    }

    /// Writes `bit`, which is 0 with probability `prob`/256.
    #[inline(always)]
    pub(super) fn put(&mut self, bit: bool, prob: Prob) {
        let split = 1 + (((self.range - 1) * u32::from(prob)) >> 8);
        if bit {
            self.low = self.low.wrapping_add(split);
            self.range -= split;
        } else {
            self.range = split;
        }
        let mut shift = self.range.leading_zeros() as i32 - 24;
        self.range <<= shift;
        self.count += shift;
        if self.count >= 0 {
            let offset = shift - self.count;
            if (self.low << (offset - 1)) & 0x8000_0000 != 0 {
                self.carry();
            }
            self.out.push((self.low >> (24 - offset)) as u8);
            self.low <<= offset;
            shift = self.count;
            self.low &= 0x00ff_ffff;
            self.count -= 8;
        }
        self.low <<= shift;
    }

    /// Adds one to the bytes written so far (a carry out of the pending bits).
    fn carry(&mut self) {
        for byte in self.out.iter_mut().rev() {
            if *byte == 0xff {
                *byte = 0;
            } else {
                *byte += 1;
                return;
            }
        }
    }

    /// Writes `bit` with even odds (a sign, a literal's bit).
    #[inline]
    pub(super) fn put_even(&mut self, bit: bool) {
        self.put(bit, 128);
    }

    /// Writes the low `bits` bits of `value`, most significant first, with even odds.
    pub(super) fn put_literal(&mut self, value: u32, bits: u32) {
        for bit in (0..bits).rev() {
            self.put_even((value >> bit) & 1 == 1);
        }
    }

    /// Writes every pending bit and returns the bytes.
    pub(super) fn finish(mut self) -> Vec<u8> {
        for _ in 0..32 {
            self.put_even(false);
        }
        self.out
    }
}
