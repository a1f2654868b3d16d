//! One macroblock (16x16 luma, two 8x8 chroma planes): the prediction mode it takes, its
//! residual transformed and quantized, and the pixels a decoder reconstructs from that,
//! which the macroblocks right of and below it predict from.
//!
//! Only the whole-block modes (DC, V, H, TM) are used, picked by the smallest squared error
//! of the prediction: cheap, and text edges cost more bits than 4x4 modes would spend.

use super::tables::{AC_QUANT, DC_QUANT, ZIGZAG};
use super::transform::{fdct, fwht, idct, iwht};

/// A whole-block prediction mode, numbered as the format's trees number them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Dc,
    V,
    H,
    Tm,
}

const MODES: [Mode; 4] = [Mode::Dc, Mode::V, Mode::H, Mode::Tm];

const QFIX: u32 = 17;

/// The quantizer of one kind of block, per raster position (the DC step at 0, the AC step
/// elsewhere): its step, the reciprocal the encoder multiplies by, and the rounding (below a
/// half, so small coefficients become zero).
#[derive(Debug, Clone, Copy)]
struct Steps {
    q: [i32; 16],
    iq: [u32; 16],
    bias: [u32; 16],
}

impl Steps {
    /// Steps `dc` and `ac`, rounded up from `dc_bias` and `ac_bias` 256ths.
    fn new(dc: i32, ac: i32, dc_bias: u32, ac_bias: u32) -> Steps {
        let at = |j: usize| if j == 0 { (dc, dc_bias) } else { (ac, ac_bias) };
        Steps {
            q: std::array::from_fn(|j| at(j).0),
            iq: std::array::from_fn(|j| (1 << QFIX) / at(j).0 as u32),
            bias: std::array::from_fn(|j| at(j).1 << (QFIX - 8)),
        }
    }
}

/// Every step of a frame at one quantizer index (RFC 6386 14.1; the rounding is libwebp's).
#[derive(Debug, Clone, Copy)]
pub(super) struct Quant {
    /// The quantizer index, 0 (finest) to 127.
    pub(super) index: u8,
    y: Steps,
    y2: Steps,
    uv: Steps,
}

impl Quant {
    /// The steps at quantizer `index` (0 to 127).
    pub(super) fn new(index: u8) -> Quant {
        let i = usize::from(index.min(127));
        let (dc, ac) = (i32::from(DC_QUANT[i]), i32::from(AC_QUANT[i]));
        Quant {
            index: index.min(127),
            y: Steps::new(dc, ac, 96, 110),
            y2: Steps::new(dc * 2, (ac * 155 / 100).max(8), 96, 108),
            uv: Steps::new(dc.min(132), ac, 110, 115),
        }
    }

    /// The AC step of luma blocks (what the loop filter's strength follows).
    pub(super) fn luma_ac(&self) -> i32 {
        self.y.q[1]
    }
}

/// A macroblock's pixels: luma then the two chroma planes, each row-major.
#[derive(Clone)]
pub(super) struct Pixels {
    pub(super) y: [u8; 256],
    pub(super) u: [u8; 64],
    pub(super) v: [u8; 64],
}

impl Default for Pixels {
    fn default() -> Pixels {
        Pixels {
            y: [0; 256],
            u: [0; 64],
            v: [0; 64],
        }
    }
}

/// What a macroblock predicts from: the reconstructed row above, the column left and the
/// pixel above-left, with the format's stand-ins at the frame's edges (127 above, 129 left).
pub(super) struct Edges {
    pub(super) above_y: [u8; 16],
    pub(super) left_y: [u8; 16],
    pub(super) corner_y: u8,
    pub(super) above_u: [u8; 8],
    pub(super) left_u: [u8; 8],
    pub(super) corner_u: u8,
    pub(super) above_v: [u8; 8],
    pub(super) left_v: [u8; 8],
    pub(super) corner_v: u8,
    /// Whether the macroblock is not in the frame's top row (DC averages the row above).
    pub(super) has_above: bool,
    /// Whether it is not in the frame's left column.
    pub(super) has_left: bool,
}

/// A coded macroblock: its modes, and which of its 25 blocks (Y2, 16 luma, 4 U, 4 V, in
/// coding order) have coefficients, whose levels (in coding order) follow one another in
/// its band's list from `start`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Coded {
    pub(super) y_mode: Mode,
    pub(super) uv_mode: Mode,
    pub(super) nonzero: u32,
    pub(super) start: u32,
}

/// Blocks in coding order: Y2 first.
pub(super) const Y2: usize = 0;
/// The first luma block.
pub(super) const Y: usize = 1;
/// The first U block.
pub(super) const U: usize = 17;
/// The first V block.
pub(super) const V: usize = 21;

/// Codes `src` predicted from `edges` (H only when `only_h`), appending its blocks'
/// levels to `levels` and writing the decoder's reconstruction into `recon`.
pub(super) fn code(
    src: &Pixels,
    edges: &Edges,
    only_h: bool,
    quant: &Quant,
    levels: &mut Vec<[i16; 16]>,
    recon: &mut Pixels,
) -> Coded {
    let start = levels.len() as u32;
    let mut nonzero = 0u32;
    let mut blocks = [[0i16; 16]; 25];

    let y_mode = best_mode(only_h, |mode, pred| {
        predict(
            mode,
            16,
            &edges.above_y,
            &edges.left_y,
            edges.corner_y,
            edges,
            pred,
        );
        sse(&src.y, pred)
    });
    let mut pred = [0u8; 256];
    predict(
        y_mode,
        16,
        &edges.above_y,
        &edges.left_y,
        edges.corner_y,
        edges,
        &mut pred,
    );
    let mut coeffs = [[0i32; 16]; 16];
    let mut dcs = [0i32; 16];
    for (b, block) in coeffs.iter_mut().enumerate() {
        residual(&src.y, &pred, 16, b % 4 * 4, b / 4 * 4, block);
        fdct(block);
        dcs[b] = block[0];
    }
    fwht(&mut dcs);
    let transformed = dcs;
    if quantize(&transformed, &quant.y2, 0, &mut blocks[Y2], &mut dcs) {
        nonzero |= 1 << Y2;
    }
    iwht(&mut dcs);
    for (b, block) in coeffs.iter_mut().enumerate() {
        let (levels_b, mut dequant) = (&mut blocks[Y + b], [0i32; 16]);
        if quantize(block, &quant.y, 1, levels_b, &mut dequant) {
            nonzero |= 1 << (Y + b);
        }
        dequant[0] = dcs[b];
        idct(&mut dequant);
        add(&pred, &dequant, 16, b % 4 * 4, b / 4 * 4, &mut recon.y);
    }

    let uv_mode = best_mode(only_h, |mode, pred| {
        let (pu, pv) = pred.split_at_mut(64);
        predict(
            mode,
            8,
            &edges.above_u,
            &edges.left_u,
            edges.corner_u,
            edges,
            pu,
        );
        predict(
            mode,
            8,
            &edges.above_v,
            &edges.left_v,
            edges.corner_v,
            edges,
            pv,
        );
        sse(&src.u, pu) + sse(&src.v, &pv[..64])
    });
    let planes = [
        (&src.u, &edges.above_u, &edges.left_u, edges.corner_u, U),
        (&src.v, &edges.above_v, &edges.left_v, edges.corner_v, V),
    ];
    for (plane, (src, above, left, corner, first)) in planes.into_iter().enumerate() {
        let mut pred = [0u8; 64];
        predict(uv_mode, 8, above, left, corner, edges, &mut pred);
        let out = if plane == 0 {
            &mut recon.u
        } else {
            &mut recon.v
        };
        for b in 0..4 {
            let (x, y) = (b % 2 * 4, b / 2 * 4);
            let mut block = [0i32; 16];
            let mut dequant = [0i32; 16];
            residual(src, &pred, 8, x, y, &mut block);
            fdct(&mut block);
            if quantize(&block, &quant.uv, 0, &mut blocks[first + b], &mut dequant) {
                nonzero |= 1 << (first + b);
            }
            idct(&mut dequant);
            add(&pred, &dequant, 8, x, y, out);
        }
    }

    for (i, block) in blocks.iter().enumerate() {
        if nonzero & (1 << i) != 0 {
            levels.push(*block);
        }
    }
    Coded {
        y_mode,
        uv_mode,
        nonzero,
        start,
    }
}

/// The mode whose prediction `error` finds smallest (H alone when `only_h`).
fn best_mode(only_h: bool, mut error: impl FnMut(Mode, &mut [u8]) -> u32) -> Mode {
    if only_h {
        return Mode::H;
    }
    let mut pred = [0u8; 256];
    let mut best = (u32::MAX, Mode::Dc);
    for mode in MODES {
        let e = error(mode, &mut pred);
        if e < best.0 {
            best = (e, mode);
        }
    }
    best.1
}

/// Fills the `size`x`size` prediction `out` of `mode` from one plane's edges.
fn predict(
    mode: Mode,
    size: usize,
    above: &[u8],
    left: &[u8],
    corner: u8,
    edges: &Edges,
    out: &mut [u8],
) {
    let out = &mut out[..size * size];
    match mode {
        Mode::Dc => {
            let shift = if size == 16 { 4 } else { 3 };
            let sum = |s: &[u8]| s[..size].iter().map(|&p| u32::from(p)).sum::<u32>();
            let value = match (edges.has_above, edges.has_left) {
                (true, true) => (sum(above) + sum(left) + (1 << shift)) >> (shift + 1),
                (true, false) => (sum(above) + (1 << (shift - 1))) >> shift,
                (false, true) => (sum(left) + (1 << (shift - 1))) >> shift,
                (false, false) => 128,
            };
            out.fill(value as u8);
        }
        Mode::V => {
            for row in out.chunks_exact_mut(size) {
                row.copy_from_slice(&above[..size]);
            }
        }
        Mode::H => {
            for (row, &l) in out.chunks_exact_mut(size).zip(left) {
                row.fill(l);
            }
        }
        Mode::Tm => {
            for (row, &l) in out.chunks_exact_mut(size).zip(left) {
                let base = i32::from(l) - i32::from(corner);
                for (p, &a) in row.iter_mut().zip(above) {
                    *p = (base + i32::from(a)).clamp(0, 255) as u8;
                }
            }
        }
    }
}

/// Sum of squared differences.
fn sse(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i32::from(x) - i32::from(y);
            (d * d) as u32
        })
        .sum()
}

/// The 4x4 residual at (`x`, `y`) of a plane `stride` wide.
fn residual(src: &[u8], pred: &[u8], stride: usize, x: usize, y: usize, out: &mut [i32; 16]) {
    for (r, out) in out.chunks_exact_mut(4).enumerate() {
        let at = (y + r) * stride + x;
        let (src, pred) = (&src[at..at + 4], &pred[at..at + 4]);
        for ((o, &s), &p) in out.iter_mut().zip(src).zip(pred) {
            *o = i32::from(s) - i32::from(p);
        }
    }
}

/// Writes prediction plus reconstructed residual, clamped, at (`x`, `y`).
fn add(pred: &[u8], residual: &[i32; 16], stride: usize, x: usize, y: usize, out: &mut [u8]) {
    for (r, residual) in residual.chunks_exact(4).enumerate() {
        let at = (y + r) * stride + x;
        let (pred, out) = (&pred[at..at + 4], &mut out[at..at + 4]);
        for ((o, &p), &d) in out.iter_mut().zip(pred).zip(residual) {
            *o = (i32::from(p) + d).clamp(0, 255) as u8;
        }
    }
}

/// Quantizes raster-order `coeffs` from coding position `first` into `levels` (coding
/// order) and their dequantized values into `dequant` (raster order); whether any is not 0.
fn quantize(
    coeffs: &[i32; 16],
    steps: &Steps,
    first: usize,
    levels: &mut [i16; 16],
    dequant: &mut [i32; 16],
) -> bool {
    // In raster order without branches, which vectorises; then into coding order.
    let mut raster = [0i32; 16];
    for j in 0..16 {
        let c = coeffs[j];
        let level = ((c.unsigned_abs() * steps.iq[j] + steps.bias[j]) >> QFIX).min(2047) as i32;
        raster[j] = if c < 0 { -level } else { level };
        dequant[j] = raster[j] * steps.q[j];
    }
    if first == 1 {
        raster[0] = 0;
    }
    for (level, &j) in levels.iter_mut().zip(&ZIGZAG) {
        *level = raster[j] as i16;
    }
    raster.iter().fold(0, |any, &l| any | l) != 0
}
