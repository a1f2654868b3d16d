//! Coefficient tokens (RFC 6386 section 13): each block's levels as a walk down the token
//! tree, put to a [`Sink`] that either writes them or counts how often each tree node went
//! each way, from which the frame's header sends better probabilities.

use super::bool_writer::BoolWriter;
use super::macroblock::{Coded, U, V, Y, Y2};
use super::tables::{
    BANDS, CAT3, CAT4, CAT5, CAT6, COEFF_PROBS, COEFF_UPDATE_PROBS, Prob, TokenProbs,
};

/// A set of token-tree probabilities: by block kind, band and context, flattened.
#[derive(Clone, Copy)]
pub(super) struct Node(usize);

impl Node {
    fn new(kind: usize, band: usize, ctx: usize) -> Node {
        Node((kind * 8 + band) * 3 + ctx)
    }
}

/// Every set of probabilities, flattened as [`Node`] numbers them.
type Sets = [[Prob; 11]; 96];

/// Where tokens go.
pub(super) trait Sink {
    /// A bit at node `n` of `at`'s probabilities; returns `bit`.
    fn node(&mut self, bit: bool, at: Node, n: usize) -> bool;
    /// A bit with a probability of its own.
    fn fixed(&mut self, bit: bool, prob: Prob);
}

/// Writes tokens with a frame's probabilities.
pub(super) struct Writer<'a> {
    bits: BoolWriter<'a>,
    probs: &'a Sets,
}

impl<'a> Writer<'a> {
    /// A writer into `bits` with `probs`.
    pub(super) fn new(bits: BoolWriter<'a>, probs: &'a TokenProbs) -> Writer<'a> {
        let probs = probs
            .as_flattened()
            .as_flattened()
            .try_into()
            .expect("96 sets");
        Writer { bits, probs }
    }

    /// Writes the bits still held.
    pub(super) fn finish(self) {
        self.bits.finish()
    }
}

impl Sink for Writer<'_> {
    #[inline(always)]
    fn node(&mut self, bit: bool, at: Node, n: usize) -> bool {
        self.bits.put(bit, self.probs[at.0][n]);
        bit
    }

    #[inline(always)]
    fn fixed(&mut self, bit: bool, prob: Prob) {
        self.bits.put(bit, prob);
    }
}

/// How often each node of each probability set took 0 and 1.
pub(super) struct Counts(Box<Tally>);

/// A count of 0s and 1s per node of each set.
type Tally = [[[u32; 2]; 11]; 96];

impl Default for Counts {
    fn default() -> Counts {
        Counts(Box::new([[[0; 2]; 11]; 96]))
    }
}

impl Sink for Counts {
    #[inline]
    fn node(&mut self, bit: bool, at: Node, n: usize) -> bool {
        self.0[at.0][n][usize::from(bit)] += 1;
        bit
    }

    #[inline]
    fn fixed(&mut self, _: bool, _: Prob) {}
}

impl Counts {
    /// Bytes held.
    pub(super) const BYTES: usize = std::mem::size_of::<Tally>();

    /// Adds `other`'s counts.
    pub(super) fn add(&mut self, other: &Counts) {
        let pairs = self.0.as_flattened_mut();
        let others = other.0.as_flattened();
        for (a, b) in pairs.iter_mut().zip(others) {
            a[0] += b[0];
            a[1] += b[1];
        }
    }

    /// The probabilities to code with: a node's default unless sending the one its counts
    /// make best (8 bits, and its flag) saves bits.
    pub(super) fn probabilities(&self) -> Box<TokenProbs> {
        let mut probs = Box::new(COEFF_PROBS);
        let flat = probs
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut();
        let counts = self.0.as_flattened();
        let updates = COEFF_UPDATE_PROBS;
        let updates = updates.as_flattened().as_flattened().as_flattened();
        for ((prob, &[zeros, ones]), &update) in flat.iter_mut().zip(counts).zip(updates) {
            let total = zeros + ones;
            if total == 0 {
                continue;
            }
            let best = (255 - u64::from(ones) * 255 / u64::from(total)).clamp(1, 255) as Prob;
            let old = cost(zeros, ones, *prob) + bit_cost(false, update);
            let new = cost(zeros, ones, best) + bit_cost(true, update) + 8.0;
            if new < old {
                *prob = best;
            }
        }
        probs
    }
}

/// Bits to code `zeros` 0s and `ones` 1s at probability `prob` of a 0.
fn cost(zeros: u32, ones: u32, prob: Prob) -> f64 {
    f64::from(zeros) * bit_cost(false, prob) + f64::from(ones) * bit_cost(true, prob)
}

/// Bits to code `bit` at probability `prob` of a 0.
fn bit_cost(bit: bool, prob: Prob) -> f64 {
    let p0 = f64::from(prob) / 256.0;
    -(if bit { 1.0 - p0 } else { p0 }).log2()
}

// Which blocks have coefficients, as the contexts of the blocks below and right need: bit
// 0 is Y2, bits 1-4 the luma blocks of a column or row, 5-6 U, 7-8 V.

/// The bottom row of a macroblock's blocks (what the macroblock below sees above it).
fn bottom_edge(nonzero: u32) -> u32 {
    let bit = |block: usize| (nonzero >> block) & 1;
    let mut edge = bit(Y2);
    for x in 0..4 {
        edge |= bit(Y + 12 + x) << (1 + x);
    }
    for x in 0..2 {
        edge |= bit(U + 2 + x) << (5 + x);
        edge |= bit(V + 2 + x) << (7 + x);
    }
    edge
}

/// The right column of a macroblock's blocks (what the macroblock right of it sees).
fn right_edge(nonzero: u32) -> u32 {
    let bit = |block: usize| (nonzero >> block) & 1;
    let mut edge = bit(Y2);
    for y in 0..4 {
        edge |= bit(Y + y * 4 + 3) << (1 + y);
    }
    for y in 0..2 {
        edge |= bit(U + y * 2 + 1) << (5 + y);
        edge |= bit(V + y * 2 + 1) << (7 + y);
    }
    edge
}

/// Puts the tokens of a row of macroblocks whose levels are in `levels`; `above` is the row
/// above, if any (else the row's blocks see none above them).
#[inline(always)]
pub(super) fn put_row(
    sink: &mut impl Sink,
    above: Option<&[Coded]>,
    row: &[Coded],
    levels: &[[i16; 16]],
) {
    let mut left = 0u32;
    for (mbx, coded) in row.iter().enumerate() {
        let up = above.map_or(0, |above| bottom_edge(above[mbx].nonzero));
        if coded.nonzero != 0 {
            let levels = &levels[coded.start as usize..];
            put_macroblock(sink, coded.nonzero, levels, up, left);
        }
        left = right_edge(coded.nonzero);
    }
}

/// Puts a macroblock's 25 blocks of tokens; `above` and `left` are its neighbours' edges.
#[inline(always)]
fn put_macroblock(
    w: &mut impl Sink,
    nonzero: u32,
    mut levels: &[[i16; 16]],
    above: u32,
    left: u32,
) {
    let mut next = |block: usize| -> Option<&[i16; 16]> {
        if nonzero & (1 << block) == 0 {
            return None;
        }
        let (first, rest) = levels.split_first().expect("a level block per nonzero bit");
        levels = rest;
        Some(first)
    };
    let has = |edge: u32, bit: u32| ((edge >> bit) & 1) as usize;
    put_block(w, 1, 0, next(Y2), has(above, 0) + has(left, 0));
    for y in 0..4 {
        for x in 0..4 {
            let i = Y + y * 4 + x;
            let up = if y == 0 {
                has(above, 1 + x as u32)
            } else {
                bit(nonzero, i - 4)
            };
            let lf = if x == 0 {
                has(left, 1 + y as u32)
            } else {
                bit(nonzero, i - 1)
            };
            put_block(w, 0, 1, next(i), up + lf);
        }
    }
    for (first_block, shift) in [(U, 5u32), (V, 7u32)] {
        for y in 0..2 {
            for x in 0..2 {
                let i = first_block + y * 2 + x;
                let up = if y == 0 {
                    has(above, shift + x as u32)
                } else {
                    bit(nonzero, i - 2)
                };
                let lf = if x == 0 {
                    has(left, shift + y as u32)
                } else {
                    bit(nonzero, i - 1)
                };
                put_block(w, 2, 0, next(i), up + lf);
            }
        }
    }
}

fn bit(nonzero: u32, block: usize) -> usize {
    ((nonzero >> block) & 1) as usize
}

/// Writes one block's tokens from coding position `first` (RFC 6386 13.2), or its end at
/// once when it has no coefficients.
#[inline(always)]
fn put_block(w: &mut impl Sink, kind: usize, first: usize, levels: Option<&[i16; 16]>, ctx: usize) {
    let mut p = Node::new(kind, BANDS[first], ctx);
    let Some(levels) = levels else {
        w.node(false, p, 0);
        return;
    };
    let last = (first..16).rev().find(|&n| levels[n] != 0).unwrap_or(first);
    w.node(true, p, 0);
    let mut n = first;
    while n < 16 {
        let value = levels[n];
        n += 1;
        let v = value.unsigned_abs() as u32;
        if !w.node(v != 0, p, 1) {
            p = Node::new(kind, BANDS[n], 0);
            continue;
        }
        if !w.node(v > 1, p, 2) {
            p = Node::new(kind, BANDS[n], 1);
        } else {
            if !w.node(v > 4, p, 3) {
                if w.node(v != 2, p, 4) {
                    w.node(v == 4, p, 5);
                }
            } else if !w.node(v > 10, p, 6) {
                if !w.node(v > 6, p, 7) {
                    w.fixed(v == 6, 159);
                } else {
                    w.fixed(v >= 9, 165);
                    w.fixed(v & 1 == 0, 145);
                }
            } else {
                let (extra, table): (u32, &[u8]) = if v < 3 + (8 << 1) {
                    w.node(false, p, 8);
                    w.node(false, p, 9);
                    (v - (3 + 8), &CAT3)
                } else if v < 3 + (8 << 2) {
                    w.node(false, p, 8);
                    w.node(true, p, 9);
                    (v - (3 + (8 << 1)), &CAT4)
                } else if v < 3 + (8 << 3) {
                    w.node(true, p, 8);
                    w.node(false, p, 10);
                    (v - (3 + (8 << 2)), &CAT5)
                } else {
                    w.node(true, p, 8);
                    w.node(true, p, 10);
                    (v - (3 + (8 << 3)), &CAT6)
                };
                for (i, &prob) in table.iter().enumerate() {
                    let shift = table.len() - 1 - i;
                    w.fixed((extra >> shift) & 1 == 1, prob);
                }
            }
            p = Node::new(kind, BANDS[n], 2);
        }
        w.fixed(value < 0, 128);
        if n == 16 || !w.node(n <= last, p, 0) {
            return;
        }
    }
}
