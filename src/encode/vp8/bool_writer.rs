//! VP8's boolean entropy coder (RFC 6386 section 7): each bool is coded with the probability
//! that it is 0, so likely bools cost a fraction of a bit.
//!
//! The bytes are the RFC's writer's, produced faster: a bool updates the interval without a
//! branch (a token's bools are unpredictable), and finished bits wait in a 64-bit register
//! to be written 32 at a time rather than a byte at a time. The writer borrows the vector it
//! writes to: a writer in a local variable then has no address that the vector's own calls
//! could reach, and the compiler keeps its interval in registers across the token loop
//! (`Frame::tokens`) instead of storing and reloading it at every bool, on the chain of
//! dependent steps each bool waits for.

use super::tables::Prob;

/// Bits held before 32 of them are written: at most 7 more arrive per bool, so `low` (with
/// its carry bit) never holds more than 48.
const FLUSH_AT: u32 = 40;

/// How far an interval of each width (1 to 255, indexed by the width less one) shifts to be
/// 128 or wider again. A table rather than counting leading zeros: without target features
/// that is `bsr`, which AMD's processors issue once per four cycles.
const SHIFTS: [u8; 256] = {
    let mut shifts = [0; 256];
    let mut width = 1;
    while width < 256 {
        shifts[width - 1] = ((width as u32).leading_zeros() - 24) as u8;
        width += 1;
    }
    shifts
};

/// Each width (indexed by the width less one) shifted by [`SHIFTS`], less one: the next
/// width in one load, rather than a load and a shift on the chain each bool waits for.
const SHIFTED: [u8; 256] = {
    let mut shifted = [0; 256];
    let mut width = 1;
    while width < 256 {
        shifted[width - 1] = ((width << SHIFTS[width - 1]) - 1) as u8;
        width += 1;
    }
    shifted
};

/// Writes bools into a byte vector, carrying into bytes already written as the format
/// requires.
pub(super) struct BoolWriter<'a> {
    out: &'a mut Vec<u8>,
    /// The interval's width less one (as libvpx keeps it: one step less per bool), 127 to
    /// 254 between calls.
    range: u32,
    /// The interval's low end: the `bits` bits not yet written, and a carry above them.
    low: u64,
    /// Bits in `low` (the lowest 8 at the interval width's own scale).
    bits: u32,
    /// Carries into written bytes, which tests make sure happen.
    #[cfg(test)]
    carries: usize,
}

impl<'a> BoolWriter<'a> {
    /// An empty writer that appends to `out` (cleared).
    pub(super) fn new(out: &'a mut Vec<u8>) -> BoolWriter<'a> {
        out.clear();
        BoolWriter {
            out,
            range: 254,
            low: 0,
            bits: 8,
            #[cfg(test)]
            carries: 0,
        }
    }

    /// Writes `bit`, which is 0 with probability `prob`/256.
    #[inline(always)]
    pub(super) fn put(&mut self, bit: bool, prob: Prob) {
        // The lower part's width less one: RFC 6386's split is 1 + this.
        let split = (self.range * u32::from(prob)) >> 8;
        // A 1 takes the interval's upper part, above the split; a 0 its lower part.
        let one = u32::from(bit).wrapping_neg();
        self.low += u64::from((split + 1) & one);
        let range = (split & !one) | ((self.range - split - 1) & one);
        let shift = u32::from(SHIFTS[range as usize & 0xff]);
        self.range = u32::from(SHIFTED[range as usize & 0xff]);
        self.low <<= shift;
        self.bits += shift;
        if self.bits >= FLUSH_AT {
            self.write_bits(32);
        }
    }

    /// Writes the top `n` (a multiple of 8, at most 32) of the bits held.
    #[inline(always)]
    fn write_bits(&mut self, n: u32) {
        let rest = self.bits - n;
        let top = self.low >> rest;
        if top >> n != 0 {
            carry(self.out);
            #[cfg(test)]
            {
                self.carries += 1;
            }
        }
        let bytes = (top as u32).to_be_bytes();
        self.out.extend_from_slice(&bytes[4 - (n / 8) as usize..]);
        self.low &= (1 << rest) - 1;
        self.bits = rest;
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

    /// Writes every pending bit: 32 even 0s, then as many bytes as the RFC's writer has
    /// written by then (one per 8 shifts after its first 24): enough that a decoder decides
    /// its last bool on bytes it has.
    pub(super) fn finish(mut self) {
        for _ in 0..32 {
            self.put_even(false);
        }
        let shifts = self.bits as usize - 8 + 8 * self.out.len();
        let total = (shifts - 24) / 8 + 1;
        while self.out.len() < total {
            self.write_bits(8);
        }
        // Bytes past that hold padding's 0s only.
        self.out.truncate(total);
    }
}

/// Adds one to the bytes written so far (a carry out of the bits held).
#[cold]
fn carry(out: &mut [u8]) {
    for byte in out.iter_mut().rev() {
        if *byte == 0xff {
            *byte = 0;
        } else {
            *byte += 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6386's bool decoder (section 7.3), reading zeros past the end and counting the
    /// bools it decided on bits from past the end (libwebp rejects such a partition).
    struct Decoder<'a> {
        data: std::slice::Iter<'a, u8>,
        /// A 16-bit window on the stream: its top 8 bits decide a bool.
        value: u32,
        /// How many of the window's top bits came from the data.
        real: u32,
        range: u32,
        bit_count: u32,
        past_end: usize,
    }

    impl Decoder<'_> {
        fn new(data: &[u8]) -> Decoder<'_> {
            let mut d = Decoder {
                data: data.iter(),
                value: 0,
                real: 0,
                range: 255,
                bit_count: 0,
                past_end: 0,
            };
            for _ in 0..2 {
                d.value <<= 8;
                d.load();
            }
            d
        }

        /// Reads the next byte into the window's low 8 bits.
        fn load(&mut self) {
            if let Some(&byte) = self.data.next() {
                self.value |= u32::from(byte);
                self.real += 8;
            }
        }

        fn get(&mut self, prob: Prob) -> bool {
            self.past_end += usize::from(self.real < 8);
            let split = 1 + (((self.range - 1) * u32::from(prob)) >> 8);
            let big_split = split << 8;
            let bit = self.value >= big_split;
            if bit {
                self.range -= split;
                self.value -= big_split;
            } else {
                self.range = split;
            }
            while self.range < 128 {
                self.value <<= 1;
                self.real = self.real.saturating_sub(1);
                self.range <<= 1;
                self.bit_count += 1;
                if self.bit_count == 8 {
                    self.bit_count = 0;
                    self.load();
                }
            }
            bit
        }
    }

    /// Pseudo-random bools from `seed`, each 0 with the probability it is coded with.
    fn bools(seed: u64, count: usize) -> Vec<(bool, Prob)> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let prob = (next() % 255 + 1) as Prob;
                (next() % 256 >= u64::from(prob), prob)
            })
            .collect()
    }

    #[test]
    fn a_decoder_reads_back_every_bool_without_reading_past_the_end() {
        let mut carries = 0;
        for (seed, count) in [(1, 0), (2, 1), (3, 7), (4, 100), (5, 5000), (6, 200_000)] {
            let sequence = bools(seed, count);
            let mut data = Vec::new();
            let mut w = BoolWriter::new(&mut data);
            for &(bit, prob) in &sequence {
                w.put(bit, prob);
            }
            carries += w.carries;
            w.finish();
            let mut d = Decoder::new(&data);
            for (i, &(bit, prob)) in sequence.iter().enumerate() {
                assert_eq!(d.get(prob), bit, "seed {seed}: bool {i} of {count}");
            }
            assert_eq!(
                d.past_end,
                0,
                "seed {seed}: decided past the {} bytes",
                data.len()
            );
        }
        assert!(carries > 100, "only {carries} carries into written bytes");
    }
}
