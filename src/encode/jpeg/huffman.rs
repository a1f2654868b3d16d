//! Entropy coding of quantized blocks (ITU T.81 F.1.2): each block's DC as a difference from
//! the previous block's of its component, its AC coefficients as runs of zeros and sizes,
//! with Huffman codes, into bytes in which every 0xFF is followed by a stuffed 0x00.

use std::sync::LazyLock;

use super::tables::{CHROMA_AC, CHROMA_DC, HuffmanSpec, LUMA_AC, LUMA_DC};

/// A block's 64 quantized coefficients in zigzag order.
pub(super) type Coefficients = [i16; 64];

/// Each symbol's code and its length in bits (0 for a symbol the table does not hold).
pub(super) struct Codes {
    code: [u16; 256],
    len: [u8; 256],
}

impl Codes {
    /// Codes assigned as T.81 Annex C does: in order of length, counting up.
    fn new(spec: &HuffmanSpec) -> Codes {
        let mut codes = Codes {
            code: [0; 256],
            len: [0; 256],
        };
        let mut symbols = spec.symbols.iter();
        let mut code = 0u16;
        for (len, &count) in (1..=16u8).zip(&spec.counts) {
            for &symbol in symbols.by_ref().take(usize::from(count)) {
                codes.code[usize::from(symbol)] = code;
                codes.len[usize::from(symbol)] = len;
                code += 1;
            }
            code <<= 1;
        }
        codes
    }
}

/// The DC and AC codes of one component kind (luminance or chrominance).
pub(super) struct Component {
    dc: Codes,
    ac: Codes,
}

/// The luminance codes.
pub(super) static LUMA: LazyLock<Component> = LazyLock::new(|| Component {
    dc: Codes::new(&LUMA_DC),
    ac: Codes::new(&LUMA_AC),
});

/// The chrominance codes.
pub(super) static CHROMA: LazyLock<Component> = LazyLock::new(|| Component {
    dc: Codes::new(&CHROMA_DC),
    ac: Codes::new(&CHROMA_AC),
});

/// The AC symbol for sixteen zeros in a row.
const ZERO_RUN: usize = 0xF0;
/// The AC symbol for "every coefficient left is zero".
const END_OF_BLOCK: usize = 0x00;

/// Bytes one block can take at most, whatever its coefficients: at most 68 symbols (the DC,
/// 63 AC and 4 runs of zeros, or an end) of at most 32 bits with their extra bits, after
/// fewer than 32 bits held from before, every byte stuffed: 2 x (68 + 1) x 4.
const BLOCK_BYTES: usize = 552;
/// Bytes gathered in [`Bits`] before they are appended to its output. A block is written
/// into this fixed array with the writer's state in local variables, which the compiler
/// keeps in registers; pushed onto a vector, the state went back to memory at every write.
const CHUNK: usize = 4096;

/// Writes codes into bytes, most significant bit first, stuffing a 0x00 after each 0xFF.
pub(super) struct Bits<'a> {
    out: &'a mut Vec<u8>,
    chunk: [u8; CHUNK],
    /// Bytes of `chunk` written.
    len: usize,
    /// Bits not yet written: the lowest `held` of them (higher ones were written already).
    pending: u64,
    held: u32,
}

/// [`Bits`]'s state while it writes one block, in local variables.
struct Writer<'b> {
    chunk: &'b mut [u8; CHUNK],
    len: usize,
    pending: u64,
    held: u32,
}

impl<'a> Bits<'a> {
    /// A writer appending to `out`.
    pub(super) fn new(out: &'a mut Vec<u8>) -> Bits<'a> {
        Bits {
            out,
            chunk: [0; CHUNK],
            len: 0,
            pending: 0,
            held: 0,
        }
    }

    /// Runs `f` on a [`Writer`] with room for a block, and keeps what it wrote.
    #[inline(always)]
    fn write_with(&mut self, f: impl FnOnce(&mut Writer)) {
        if self.len > CHUNK - BLOCK_BYTES {
            self.out.extend_from_slice(&self.chunk[..self.len]);
            self.len = 0;
        }
        let mut writer = Writer {
            chunk: &mut self.chunk,
            len: self.len,
            pending: self.pending,
            held: self.held,
        };
        f(&mut writer);
        (self.len, self.pending, self.held) = (writer.len, writer.pending, writer.held);
    }

    /// Pads the last byte with 1 bits (as T.81 F.1.2.3 asks) and writes what is held.
    pub(super) fn finish(mut self) {
        self.write_with(|w| {
            let pad = (8 - w.held % 8) % 8;
            w.put((1 << pad) - 1, pad);
            while w.held >= 8 {
                w.held -= 8;
                w.push_stuffed((w.pending >> w.held) as u8);
            }
        });
        self.out.extend_from_slice(&self.chunk[..self.len]);
    }

    /// Writes `block`, whose DC is coded as its difference from `previous_dc`.
    pub(super) fn put_block(&mut self, block: &Coefficients, previous_dc: i16, codes: &Component) {
        let (sizes, values) = sizes_and_values(block);
        self.write_with(|w| {
            let (size, bits) = magnitude(i32::from(block[0]) - i32::from(previous_dc));
            w.put_symbol(&codes.dc, size as usize, bits, size);
            let mut nonzero = nonzero_mask(block) & !1; // the AC coefficients
            let mut last = 0;
            while nonzero != 0 {
                let k = nonzero.trailing_zeros();
                let mut run = k - last - 1;
                while run >= 16 {
                    w.put_symbol(&codes.ac, ZERO_RUN, 0, 0);
                    run -= 16;
                }
                let size = u32::from(sizes[k as usize]);
                let bits = u32::from(values[k as usize]) & ((1 << size) - 1);
                w.put_symbol(&codes.ac, (run << 4 | size) as usize, bits, size);
                last = k;
                nonzero &= nonzero - 1;
            }
            if last != 63 {
                w.put_symbol(&codes.ac, END_OF_BLOCK, 0, 0);
            }
        });
    }
}

impl Writer<'_> {
    /// Writes the low `len` bits of `bits` (at most 32).
    #[inline(always)]
    fn put(&mut self, bits: u32, len: u32) {
        self.pending = (self.pending << len) | u64::from(bits);
        self.held += len;
        if self.held >= 32 {
            self.held -= 32;
            self.write((self.pending >> self.held) as u32);
        }
    }

    /// Writes four bytes, stuffed.
    #[inline(always)]
    fn write(&mut self, word: u32) {
        // A byte is 0xFF when it has no zero bit: `!word` has a zero byte there.
        let inverse = !word;
        let has_ff = inverse.wrapping_sub(0x0101_0101) & !inverse & 0x8080_8080 != 0;
        if !has_ff {
            self.chunk[self.len..self.len + 4].copy_from_slice(&word.to_be_bytes());
            self.len += 4;
        } else {
            word.to_be_bytes()
                .into_iter()
                .for_each(|byte| self.push_stuffed(byte));
        }
    }

    /// Writes one byte, and a 0x00 after it if it is 0xFF.
    fn push_stuffed(&mut self, byte: u8) {
        self.chunk[self.len] = byte;
        self.len += 1;
        if byte == 0xFF {
            self.chunk[self.len] = 0;
            self.len += 1;
        }
    }

    /// Writes `symbol`'s code followed by the low `extra` bits of `bits`.
    #[inline(always)]
    fn put_symbol(&mut self, codes: &Codes, symbol: usize, bits: u32, extra: u32) {
        let len = u32::from(codes.len[symbol]);
        debug_assert!(len > 0, "symbol {symbol:#x} has a code");
        self.put(u32::from(codes.code[symbol]) << extra | bits, len + extra);
    }
}

/// Every coefficient's size category and the bits that code it (unmasked: the low `size`
/// bits are the value when positive, its ones' complement when negative), worked out for the
/// whole block at once, which the compiler does with vector instructions, so that the coding
/// loop only looks them up.
#[inline(always)]
fn sizes_and_values(block: &Coefficients) -> ([u8; 64], [u16; 64]) {
    let mut sizes = [0u8; 64];
    let mut values = [0u16; 64];
    for ((size, value), &c) in sizes.iter_mut().zip(&mut values).zip(block) {
        *size = size_category(f32::from(c.unsigned_abs())) as u8;
        *value = c.wrapping_add(c >> 15) as u16;
    }
    (sizes, values)
}

/// The size category (bits needed) of a whole-number magnitude below 2^24 given as a float,
/// read from its exponent: floor(log2) + 127, so the exponent less 126, or 0 for zero.
/// Neither a table nor counting leading zeros: without target features that is `bsr`, which
/// AMD's processors issue once per four cycles, and it does not vectorize.
#[inline(always)]
fn size_category(magnitude: f32) -> u32 {
    (magnitude.to_bits() >> 23).saturating_sub(126)
}

/// Bit `k` set where coefficient `k` is not zero: a byte per coefficient first (which the
/// compiler does with vector compares), each eight of them packed into a byte by one
/// multiplication (byte `k` of the product's top byte gathers from byte `k`, as bit `k`).
#[inline(always)]
fn nonzero_mask(block: &Coefficients) -> u64 {
    let flags = block.map(|c| u8::from(c != 0));
    let mut mask = 0;
    for (i, eight) in flags.chunks_exact(8).enumerate() {
        let bytes = u64::from_le_bytes(eight.try_into().expect("8 flags"));
        mask |= (bytes.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    mask
}

/// A value's size category (bits needed for its magnitude) and the bits that code it: the
/// value itself when positive, its ones' complement when negative. For a DC difference, at
/// most 2^16 in magnitude.
#[inline(always)]
fn magnitude(value: i32) -> (u32, u32) {
    debug_assert!(
        value.unsigned_abs() < 1 << 24,
        "{value} is past what a float holds exactly"
    );
    let size = size_category(value.abs() as f32);
    let bits = if value < 0 { value - 1 } else { value } as u32;
    (size, bits & ((1u32 << size) - 1))
}

/// Appends `spec` as a DHT table entry: its class and id byte, counts and symbols.
pub(super) fn write_spec(class_and_id: u8, spec: &HuffmanSpec, out: &mut Vec<u8>) {
    out.push(class_and_id);
    out.extend_from_slice(&spec.counts);
    out.extend_from_slice(spec.symbols);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Bits)) -> Vec<u8> {
        let mut out = Vec::new();
        let mut bits = Bits::new(&mut out);
        f(&mut bits);
        bits.finish();
        out
    }

    #[test]
    fn sizes_and_bits_follow_the_standard() {
        assert_eq!(magnitude(0), (0, 0));
        assert_eq!(magnitude(1), (1, 1));
        assert_eq!(magnitude(-1), (1, 0));
        assert_eq!(magnitude(-3), (2, 0b00));
        assert_eq!(magnitude(5), (3, 0b101));
        assert_eq!(magnitude(-5), (3, 0b010));
        assert_eq!(magnitude(-2047), (11, 0));
        // Past 11 bits, and every value a DC difference can take against counting bits.
        assert_eq!(magnitude(2048), (12, 2048));
        assert_eq!(magnitude(-4095), (12, 0));
        for value in -65536i32..=65536 {
            let size = 32 - value.unsigned_abs().leading_zeros();
            assert_eq!(magnitude(value).0, size, "{value}");
        }
    }

    #[test]
    fn the_nonzero_mask_has_a_bit_for_each_nonzero_coefficient() {
        let mut seed = 0x2545_F491_u32;
        for _ in 0..2000 {
            let block: Coefficients = std::array::from_fn(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                if seed.is_multiple_of(3) {
                    (seed >> 8) as i16
                } else {
                    0
                }
            });
            let expected =
                (block.iter().enumerate()).fold(0u64, |m, (k, &c)| m | u64::from(c != 0) << k);
            assert_eq!(nonzero_mask(&block), expected, "{block:?}");
        }
        assert_eq!(nonzero_mask(&[-1; 64]), u64::MAX);
    }

    #[test]
    fn codes_are_assigned_in_order_of_length() {
        // Luminance DC: one 2-bit code (00 for 0), then five 3-bit codes (010 to 110).
        assert_eq!((LUMA.dc.code[0], LUMA.dc.len[0]), (0b00, 2));
        assert_eq!((LUMA.dc.code[1], LUMA.dc.len[1]), (0b010, 3));
        assert_eq!((LUMA.dc.code[11], LUMA.dc.len[11]), (0b1_1111_1110, 9));
        // Luminance AC: end of block is 1010, sixteen zeros 11111111001.
        assert_eq!((LUMA.ac.code[0x00], LUMA.ac.len[0x00]), (0b1010, 4));
        assert_eq!(
            (LUMA.ac.code[0xF0], LUMA.ac.len[0xF0]),
            (0b111_1111_1001, 11)
        );
    }

    #[test]
    fn every_ff_byte_is_stuffed_and_the_end_padded_with_ones() {
        assert_eq!(
            written(|b| b.write_with(|w| w.put(0xFFFF_FFFF, 32))),
            [0xFF, 0, 0xFF, 0, 0xFF, 0, 0xFF, 0]
        );
        assert_eq!(
            written(|b| b.write_with(|w| w.put(0x0012_FF34, 24))),
            [0x12, 0xFF, 0, 0x34]
        );
        assert_eq!(
            written(|b| b.write_with(|w| w.put(0b101, 3))),
            [0b1011_1111]
        );
        assert_eq!(written(|b| b.write_with(|w| w.put(0b1111, 4))), [0xFF, 0]);
        assert_eq!(written(|_| ()), Vec::<u8>::new());
    }

    #[test]
    fn a_block_is_its_dc_difference_then_runs_and_an_end() {
        // DC 3 after 1 (difference 2: code 011, bits 10), AC -1 at zigzag 1 (run 0 size 1:
        // 00, bit 0), 5 at zigzag 20 (run 18: sixteen zeros, then run 2 size 3: 1111110111,
        // bits 101), then end of block (1010); padded with ones. The second byte is 0xFF, so
        // a 0x00 follows it.
        let mut block = [0i16; 64];
        block[0] = 3;
        block[1] = -1;
        block[20] = 5;
        let bits = "011 10 00 0 11111111001 1111110111 101 1010";
        let mut expected: String = bits.split(' ').collect();
        while !expected.len().is_multiple_of(8) {
            expected.push('1');
        }
        let bytes = written(|b| b.put_block(&block, 1, &LUMA));
        assert_eq!(bytes[1..3], [0xFF, 0]);
        let unstuffed = [&bytes[..2], &bytes[3..]].concat();
        let got: String = unstuffed.iter().map(|b| format!("{b:08b}")).collect();
        assert_eq!(got, expected);
    }

    /// A block coded the plain way, as a string of bits: sizes by counting, every symbol
    /// one at a time.
    fn block_as_text(block: &Coefficients, previous_dc: i16, codes: &Component) -> String {
        let code = |codes: &Codes, symbol: usize| {
            let len = usize::from(codes.len[symbol]);
            format!("{:0len$b}", codes.code[symbol])
        };
        let value_bits = |v: i32| {
            let size = (32 - v.unsigned_abs().leading_zeros()) as usize;
            let bits = if v < 0 { v - 1 } else { v } as u32 & ((1u32 << size) - 1);
            (
                size,
                if size == 0 {
                    String::new()
                } else {
                    format!("{bits:0size$b}")
                },
            )
        };
        let (size, bits) = value_bits(i32::from(block[0]) - i32::from(previous_dc));
        let mut text = code(&codes.dc, size) + &bits;
        let mut run = 0;
        for &c in &block[1..] {
            if c == 0 {
                run += 1;
                continue;
            }
            while run >= 16 {
                text += &code(&codes.ac, ZERO_RUN);
                run -= 16;
            }
            let (size, bits) = value_bits(i32::from(c));
            text += &(code(&codes.ac, run << 4 | size) + &bits);
            run = 0;
        }
        if block[63] == 0 {
            text += &code(&codes.ac, END_OF_BLOCK);
        }
        text
    }

    #[test]
    fn blocks_are_coded_as_the_plain_way_codes_them_over_many_chunks() {
        let mut seed = 0x9E37_79B9_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        // Sparse and dense blocks, magnitudes up to 1023 (AC) and DC differences up to 2047,
        // enough of them to fill the chunk many times over.
        let blocks: Vec<(Coefficients, bool)> = (0..3000)
            .map(|i| {
                let density = [2, 8, 60][i % 3];
                let block = std::array::from_fn(|k| {
                    let r = next();
                    if k == 0 {
                        (r % 2048) as i16 - 1024
                    } else if r % 64 < density {
                        ((r >> 8) % 2047) as i16 - 1023
                    } else {
                        0
                    }
                });
                (block, i % 6 >= 4)
            })
            .collect();
        let mut expected = String::new();
        let mut dc = [0i16; 2];
        let bytes = written(|bits| {
            for (block, chroma) in &blocks {
                let codes = if *chroma { &*CHROMA } else { &*LUMA };
                let previous = &mut dc[usize::from(*chroma)];
                expected += &block_as_text(block, *previous, codes);
                bits.put_block(block, *previous, codes);
                *previous = block[0];
            }
        });
        while !expected.len().is_multiple_of(8) {
            expected.push('1');
        }
        assert!(bytes.len() > 4 * CHUNK, "{} bytes", bytes.len());
        let mut unstuffed = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while at < bytes.len() {
            unstuffed.push(bytes[at]);
            if bytes[at] == 0xFF {
                assert_eq!(
                    bytes.get(at + 1),
                    Some(&0),
                    "a stuffed 0x00 after 0xFF at {at}"
                );
                at += 1;
            }
            at += 1;
        }
        let got: String = unstuffed.iter().map(|b| format!("{b:08b}")).collect();
        assert!(
            got == expected,
            "the coded bits differ from the plain coding"
        );
    }

    #[test]
    fn sizes_from_the_float_exponent_are_the_bit_lengths() {
        let block: Coefficients =
            std::array::from_fn(|k| [0, 1, -1, 2, -3, 1023, -1024, 2047][k % 8]);
        let (sizes, values) = sizes_and_values(&block);
        for (k, &c) in block.iter().enumerate() {
            let (size, bits) = magnitude(i32::from(c));
            assert_eq!(u32::from(sizes[k]), size, "{c}");
            assert_eq!(u32::from(values[k]) & ((1 << size) - 1), bits, "{c}");
        }
        for c in i16::MIN + 1..=i16::MAX {
            let size = sizes_and_values(&[c; 64]).0[0];
            assert_eq!(
                u32::from(size),
                16 - c.unsigned_abs().leading_zeros(),
                "{c}"
            );
        }
    }
}
