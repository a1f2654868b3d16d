//! Pixels to quantized blocks: an MCU's pixels (composited over white) converted to YCbCr
//! (JFIF), chroma averaged over 2x2 pixels at 4:2:0, each 8x8 block through a forward DCT
//! (the Arai-Agui-Nakajima factorization in floating point, eight columns at a time so the
//! compiler can use vector instructions) and quantized, in zigzag order.

use tiny_skia::Pixmap;

use super::huffman::Coefficients;
use super::tables::ZIGZAG;

/// Eight samples worked on together: a block's row, or (transposed) its column.
type Lanes = [f32; 8];

/// An 8x8 block of samples, row by row.
type Samples = [Lanes; 8];

/// The AAN DCT's output for frequency k is the true one times `AAN_SCALE[k] * 8` (per
/// dimension, with the factor 8 split between the two): cos(k pi / 16) sqrt 2, 1 for k = 0.
const AAN_SCALE: [f32; 8] = [
    1.0,
    1.387_039_8,
    1.306_563,
    1.175_875_6,
    1.0,
    0.785_694_96,
    0.541_196_1,
    0.275_899_38,
];

/// How a block's samples become quantized coefficients at one quality.
pub(super) struct Quantizer {
    /// Reciprocal step sizes (folding in the DCT's scale) in the transposed order the DCT
    /// leaves its output in: luminance, then chrominance.
    reciprocals: [[f32; 64]; 2],
}

/// Added to a float below 2^22 in magnitude, leaves it rounded to the nearest integer in the
/// low bits of its representation (1.5 x 2^23: the unit in the last place is 1), which the
/// compiler vectorizes, unlike a saturating `as` cast.
const ROUNDER: f32 = 12_582_912.0;

impl Quantizer {
    /// The quantizer for the luminance and chrominance `tables` (natural order).
    pub(super) fn new(tables: &[[u16; 64]; 2]) -> Quantizer {
        let reciprocals = tables.map(|table| {
            std::array::from_fn(|i| {
                // Transposed: entry u * 8 + v is horizontal frequency u, vertical v.
                let (u, v) = (i / 8, i % 8);
                1.0 / (f32::from(table[v * 8 + u]) * AAN_SCALE[u] * AAN_SCALE[v] * 8.0)
            })
        });
        Quantizer { reciprocals }
    }

    /// `samples` (level-shifted: -128 to 127) as quantized coefficients in zigzag order.
    fn quantize(&self, mut samples: Samples, chroma: bool) -> Coefficients {
        fdct_columns(&mut samples);
        let mut t = transpose(&samples);
        fdct_columns(&mut t);
        let flat = t.as_flattened();
        let reciprocals = &self.reciprocals[usize::from(chroma)];
        // Coefficients are at most 8 x 1024 in magnitude, far below 2^22.
        let mut quantized = [0i16; 64];
        for ((q, &c), &r) in quantized.iter_mut().zip(flat).zip(reciprocals) {
            let rounded = (c * r + ROUNDER).to_bits() as i32 - ROUNDER.to_bits() as i32;
            *q = rounded as i16;
        }
        TRANSPOSED_ZIGZAG.map(|i| quantized[i])
    }
}

/// [`ZIGZAG`] for the transposed order the DCT leaves its output in.
const TRANSPOSED_ZIGZAG: [usize; 64] = {
    let mut order = [0; 64];
    let mut k = 0;
    while k < 64 {
        order[k] = (ZIGZAG[k] % 8) * 8 + ZIGZAG[k] / 8;
        k += 1;
    }
    order
};

/// Blocks in an MCU at most: 4 luminance blocks (2x2) then Cb and Cr at 4:2:0; at 4:4:4, one
/// of each.
pub(super) const MAX_BLOCKS: usize = 6;

/// The component of each block of an MCU, in scan order.
pub(super) fn components(subsampled: bool) -> &'static [usize] {
    if subsampled {
        &[0, 0, 0, 0, 1, 2]
    } else {
        &[0, 1, 2]
    }
}

/// The blocks of the MCU whose top left pixel is (`x`, `y`), in scan order (see
/// [`components`]), into `blocks`: 16x16 pixels when `subsampled`, else 8x8. Pixels past the
/// image's right or bottom edge repeat its last column or row.
pub(super) fn mcu<'a>(
    pixmap: &Pixmap,
    (x, y): (usize, usize),
    subsampled: bool,
    q: &Quantizer,
    blocks: &'a mut [Coefficients; MAX_BLOCKS],
) -> &'a [Coefficients] {
    if subsampled {
        let rgb = planes::<16>(pixmap, x, y);
        for (block, (bx, by)) in blocks.iter_mut().zip([(0, 0), (8, 0), (0, 8), (8, 8)]) {
            let samples = rows(|r| {
                let row = |plane: &[[f32; 16]; 16]| -> Lanes {
                    plane[by + r][bx..bx + 8].try_into().expect("8 samples")
                };
                luma(row(&rgb[0]), row(&rgb[1]), row(&rgb[2]))
            });
            *block = q.quantize(samples, false);
        }
        // Each chroma sample from the mean of 2x2 pixels (the conversion is linear).
        let mean = rgb.map(|plane| -> Samples {
            rows(|r| {
                let (top, bottom) = (&plane[2 * r], &plane[2 * r + 1]);
                lanes(|c| (top[2 * c] + top[2 * c + 1] + bottom[2 * c] + bottom[2 * c + 1]) * 0.25)
            })
        });
        blocks[4] = q.quantize(convert(&mean, blue_chroma), true);
        blocks[5] = q.quantize(convert(&mean, red_chroma), true);
        &blocks[..6]
    } else {
        let rgb = planes::<8>(pixmap, x, y);
        blocks[0] = q.quantize(convert(&rgb, luma), false);
        blocks[1] = q.quantize(convert(&rgb, blue_chroma), true);
        blocks[2] = q.quantize(convert(&rgb, red_chroma), true);
        &blocks[..3]
    }
}

/// One component of an 8x8 block from its red, green and blue planes.
#[inline(always)]
fn convert(rgb: &[Samples; 3], f: fn(Lanes, Lanes, Lanes) -> Lanes) -> Samples {
    rows(|r| f(rgb[0][r], rgb[1][r], rgb[2][r]))
}

/// Y, level-shifted, of eight pixels.
#[inline(always)]
fn luma(r: Lanes, g: Lanes, b: Lanes) -> Lanes {
    lanes(|i| 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i] - 128.0)
}

/// Cb, level-shifted (its +128 and the shift's -128 cancel), of eight pixels.
#[inline(always)]
fn blue_chroma(r: Lanes, g: Lanes, b: Lanes) -> Lanes {
    lanes(|i| -0.168_736 * r[i] - 0.331_264 * g[i] + 0.5 * b[i])
}

/// Cr, level-shifted, of eight pixels.
#[inline(always)]
fn red_chroma(r: Lanes, g: Lanes, b: Lanes) -> Lanes {
    lanes(|i| 0.5 * r[i] - 0.418_688 * g[i] - 0.081_312 * b[i])
}

/// The `N`x`N` pixels from (`x`, `y`) over white as planes of red, green and blue, edges
/// repeated past the image.
fn planes<const N: usize>(pixmap: &Pixmap, x: usize, y: usize) -> [[[f32; N]; N]; 3] {
    let (width, height) = (pixmap.width() as usize, pixmap.height() as usize);
    let data = pixmap.data();
    let mut planes = [[[0.0; N]; N]; 3];
    for r in 0..N {
        let row = &data[(y + r).min(height - 1) * width * 4..][..width * 4];
        let pixel = |c: usize| {
            let at = (x + c).min(width - 1) * 4;
            u32::from_le_bytes(row[at..at + 4].try_into().expect("4 bytes"))
        };
        let mut pixels = [0u32; N];
        for (c, p) in pixels.iter_mut().enumerate() {
            *p = pixel(c);
        }
        // Premultiplied over white: each channel plus the white showing through (in whole
        // numbers first, which the compiler turns into vector instructions).
        for (c, p) in pixels.into_iter().enumerate() {
            let cover = 255 - (p >> 24);
            for (k, plane) in planes.iter_mut().enumerate() {
                plane[r][c] = (((p >> (8 * k)) & 0xFF) + cover) as i32 as f32;
            }
        }
    }
    planes
}

/// The forward DCT down each column of `s` (each lane a column), scaled as [`AAN_SCALE`]
/// says.
fn fdct_columns(s: &mut Samples) {
    let [d0, d1, d2, d3, d4, d5, d6, d7] = *s;
    let tmp0 = add(d0, d7);
    let tmp7 = sub(d0, d7);
    let tmp1 = add(d1, d6);
    let tmp6 = sub(d1, d6);
    let tmp2 = add(d2, d5);
    let tmp5 = sub(d2, d5);
    let tmp3 = add(d3, d4);
    let tmp4 = sub(d3, d4);
    // Even part.
    let tmp10 = add(tmp0, tmp3);
    let tmp13 = sub(tmp0, tmp3);
    let tmp11 = add(tmp1, tmp2);
    let tmp12 = sub(tmp1, tmp2);
    s[0] = add(tmp10, tmp11);
    s[4] = sub(tmp10, tmp11);
    let z1 = scale(add(tmp12, tmp13), std::f32::consts::FRAC_1_SQRT_2);
    s[2] = add(tmp13, z1);
    s[6] = sub(tmp13, z1);
    // Odd part.
    let tmp10 = add(tmp4, tmp5);
    let tmp11 = add(tmp5, tmp6);
    let tmp12 = add(tmp6, tmp7);
    let z5 = scale(sub(tmp10, tmp12), 0.382_683_43);
    let z2 = add(scale(tmp10, 0.541_196_1), z5);
    let z4 = add(scale(tmp12, 1.306_563), z5);
    let z3 = scale(tmp11, std::f32::consts::FRAC_1_SQRT_2);
    let z11 = add(tmp7, z3);
    let z13 = sub(tmp7, z3);
    s[5] = add(z13, z2);
    s[3] = sub(z13, z2);
    s[1] = add(z11, z4);
    s[7] = sub(z11, z4);
}

/// Eight lanes from their index (a plain loop: `std::array::from_fn` is not always inlined
/// in these hot paths, which costs the vector instructions).
#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> Lanes {
    let mut out = [0.0; 8];
    for (i, lane) in out.iter_mut().enumerate() {
        *lane = f(i);
    }
    out
}

/// Eight rows from their index.
#[inline(always)]
fn rows(mut f: impl FnMut(usize) -> Lanes) -> Samples {
    let mut out = [[0.0; 8]; 8];
    for (r, row) in out.iter_mut().enumerate() {
        *row = f(r);
    }
    out
}

#[inline(always)]
fn add(a: Lanes, b: Lanes) -> Lanes {
    lanes(|i| a[i] + b[i])
}

#[inline(always)]
fn sub(a: Lanes, b: Lanes) -> Lanes {
    lanes(|i| a[i] - b[i])
}

#[inline(always)]
fn scale(a: Lanes, k: f32) -> Lanes {
    lanes(|i| a[i] * k)
}

fn transpose(s: &Samples) -> Samples {
    rows(|r| lanes(|c| s[c][r]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::jpeg::tables::quant_table;

    /// The DCT by its definition (T.81 A.3.3), in natural order.
    fn reference_dct(samples: &Samples) -> [f64; 64] {
        let c = |k: usize| {
            if k == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        std::array::from_fn(|i| {
            let (v, u) = (i / 8, i % 8);
            let mut sum = 0.0;
            for (y, row) in samples.iter().enumerate() {
                for (x, &s) in row.iter().enumerate() {
                    let cx = ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
                    let cy = ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    sum += f64::from(s) * cx * cy;
                }
            }
            sum * c(u) * c(v) / 4.0
        })
    }

    #[test]
    fn quantized_coefficients_are_the_true_dct_divided_by_the_table() {
        let samples: Samples = std::array::from_fn(|y| {
            std::array::from_fn(|x| ((x * 37 + y * 91) % 255) as f32 - 128.0)
        });
        for quality in [30, 85, 100] {
            let tables = [false, true].map(|chroma| quant_table(quality, chroma));
            let got = Quantizer::new(&tables).quantize(samples, false);
            let table = tables[0];
            let dct = reference_dct(&samples);
            for (k, &natural) in ZIGZAG.iter().enumerate() {
                let exact = dct[natural] / f64::from(table[natural]);
                let off = (f64::from(got[k]) - exact).abs();
                assert!(
                    off <= 0.51,
                    "quality {quality}, zigzag {k}: {} for {exact}",
                    got[k]
                );
            }
        }
    }

    #[test]
    fn white_and_black_are_the_extremes_of_luma_with_no_chroma() {
        let q = Quantizer::new(&[[1; 64]; 2]); // quality 100
        let mut pixmap = Pixmap::new(16, 16).unwrap();
        pixmap.fill(tiny_skia::Color::WHITE);
        let mut blocks = [[0; 64]; MAX_BLOCKS];
        let white = mcu(&pixmap, (0, 0), true, &q, &mut blocks);
        // White: every Y sample 127 (DC 8 * 127 / 8 at step 1), Cb and Cr 0.
        assert!(white[..4].iter().all(|b| b[0] == 1016 && b[1..] == [0; 63]));
        assert!(white[4..].iter().all(|b| *b == [0; 64]));
        // Transparent is white too (composited over white), past the edge included.
        let clear = Pixmap::new(10, 10).unwrap();
        let blocks = mcu(&clear, (8, 8), false, &q, &mut blocks);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0][0], 1016);
    }
}
