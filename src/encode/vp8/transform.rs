//! VP8's 4x4 transforms: the forward ones the encoder picks (any close inverse would do) and
//! the inverse ones exactly as RFC 6386 section 14 defines them, since the encoder predicts
//! from the pixels a decoder will reconstruct.

/// Forward DCT of a 4x4 block of residuals (row-major), as libvpx computes it.
pub(super) fn fdct(block: &mut [i32; 16]) {
    let mut tmp = [0i32; 16];
    for i in 0..4 {
        let row = &block[i * 4..i * 4 + 4];
        let a1 = (row[0] + row[3]) * 8;
        let b1 = (row[1] + row[2]) * 8;
        let c1 = (row[1] - row[2]) * 8;
        let d1 = (row[0] - row[3]) * 8;
        tmp[i * 4] = a1 + b1;
        tmp[i * 4 + 2] = a1 - b1;
        tmp[i * 4 + 1] = (c1 * 2217 + d1 * 5352 + 14500) >> 12;
        tmp[i * 4 + 3] = (d1 * 2217 - c1 * 5352 + 7500) >> 12;
    }
    for i in 0..4 {
        let a1 = tmp[i] + tmp[12 + i];
        let b1 = tmp[4 + i] + tmp[8 + i];
        let c1 = tmp[4 + i] - tmp[8 + i];
        let d1 = tmp[i] - tmp[12 + i];
        block[i] = (a1 + b1 + 7) >> 4;
        block[8 + i] = (a1 - b1 + 7) >> 4;
        block[4 + i] = ((c1 * 2217 + d1 * 5352 + 12000) >> 16) + i32::from(d1 != 0);
        block[12 + i] = (d1 * 2217 - c1 * 5352 + 51000) >> 16;
    }
}

/// Inverse DCT (RFC 6386 14.3), in place. A block with only a DC coefficient (most of them
/// in smooth areas) becomes that value over 8 everywhere, as the full transform would give.
pub(super) fn idct(block: &mut [i32; 16]) {
    if block[1..].iter().all(|&c| c == 0) {
        let dc = (block[0] + 4) >> 3;
        block.fill(dc);
    } else {
        full_idct(block);
    }
}

/// The inverse DCT's two passes.
fn full_idct(block: &mut [i32; 16]) {
    const C1: i32 = 20091;
    const C2: i32 = 35468;
    let mul1 = |v: i32| v + ((v * C1) >> 16);
    let mul2 = |v: i32| (v * C2) >> 16;
    for i in 0..4 {
        let a1 = block[i] + block[8 + i];
        let b1 = block[i] - block[8 + i];
        let c1 = mul2(block[4 + i]) - mul1(block[12 + i]);
        let d1 = mul1(block[4 + i]) + mul2(block[12 + i]);
        block[i] = a1 + d1;
        block[4 + i] = b1 + c1;
        block[8 + i] = b1 - c1;
        block[12 + i] = a1 - d1;
    }
    for row in block.chunks_exact_mut(4) {
        let a1 = row[0] + row[2];
        let b1 = row[0] - row[2];
        let c1 = mul2(row[1]) - mul1(row[3]);
        let d1 = mul1(row[1]) + mul2(row[3]);
        row[0] = (a1 + d1 + 4) >> 3;
        row[1] = (b1 + c1 + 4) >> 3;
        row[2] = (b1 - c1 + 4) >> 3;
        row[3] = (a1 - d1 + 4) >> 3;
    }
}

/// Forward Walsh-Hadamard transform of a macroblock's 16 luma DC coefficients, as libvpx
/// computes it.
pub(super) fn fwht(block: &mut [i32; 16]) {
    let mut tmp = [0i32; 16];
    for i in 0..4 {
        let row = &block[i * 4..i * 4 + 4];
        let a1 = (row[0] + row[2]) * 4;
        let d1 = (row[1] + row[3]) * 4;
        let c1 = (row[1] - row[3]) * 4;
        let b1 = (row[0] - row[2]) * 4;
        tmp[i * 4] = a1 + d1 + i32::from(a1 != 0);
        tmp[i * 4 + 1] = b1 + c1;
        tmp[i * 4 + 2] = b1 - c1;
        tmp[i * 4 + 3] = a1 - d1;
    }
    for i in 0..4 {
        let a1 = tmp[i] + tmp[8 + i];
        let d1 = tmp[4 + i] + tmp[12 + i];
        let c1 = tmp[4 + i] - tmp[12 + i];
        let b1 = tmp[i] - tmp[8 + i];
        let out = [a1 + d1, b1 + c1, b1 - c1, a1 - d1];
        for (k, v) in out.into_iter().enumerate() {
            block[k * 4 + i] = (v + i32::from(v < 0) + 3) >> 3;
        }
    }
}

/// Inverse Walsh-Hadamard transform (RFC 6386 14.3), in place.
pub(super) fn iwht(block: &mut [i32; 16]) {
    for i in 0..4 {
        let a1 = block[i] + block[12 + i];
        let b1 = block[4 + i] + block[8 + i];
        let c1 = block[4 + i] - block[8 + i];
        let d1 = block[i] - block[12 + i];
        block[i] = a1 + b1;
        block[4 + i] = c1 + d1;
        block[8 + i] = a1 - b1;
        block[12 + i] = d1 - c1;
    }
    for row in block.chunks_exact_mut(4) {
        let a1 = row[0] + row[3];
        let b1 = row[1] + row[2];
        let c1 = row[1] - row[2];
        let d1 = row[0] - row[3];
        row[0] = (a1 + b1 + 3) >> 3;
        row[1] = (c1 + d1 + 3) >> 3;
        row[2] = (a1 - b1 + 3) >> 3;
        row[3] = (d1 - c1 + 3) >> 3;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_dct_undoes_the_forward_one_within_rounding() {
        let input: [i32; 16] = std::array::from_fn(|i| ((i * 37 + 11) % 61) as i32 - 30);
        let mut block = input;
        fdct(&mut block);
        idct(&mut block);
        for (a, b) in input.iter().zip(&block) {
            assert!((a - b).abs() <= 1, "{input:?} came back as {block:?}");
        }
    }

    #[test]
    fn a_dc_only_block_transforms_as_the_full_inverse_does() {
        for dc in [-2048, -13, -4, -1, 0, 3, 4, 5, 1000] {
            let mut shortcut = [0; 16];
            shortcut[0] = dc;
            let mut full = shortcut;
            idct(&mut shortcut);
            full_idct(&mut full);
            assert_eq!(shortcut, full, "dc {dc}");
        }
    }

    #[test]
    fn the_inverse_wht_undoes_the_forward_one_within_rounding() {
        let input: [i32; 16] = std::array::from_fn(|i| ((i * 53 + 7) % 900) as i32 * 8 - 3600);
        let mut block = input;
        fwht(&mut block);
        iwht(&mut block);
        for (a, b) in input.iter().zip(&block) {
            assert!((a - b).abs() <= 2, "{input:?} came back as {block:?}");
        }
    }
}
