//! One premultiplied pixel drawn over another at a coverage, as the glyph masks and photos
//! vellum draws itself are blended onto the canvas.

/// Premultiplied RGBA `src` at `coverage` over `dst` (source over).
#[inline]
pub(super) fn over(dst: &mut [u8], src: &[u8], coverage: u8) {
    if coverage == 255 && src[3] == 255 {
        dst.copy_from_slice(&src[..4]);
        return;
    }
    if coverage == 0 {
        return;
    }
    let src: [u32; 4] = std::array::from_fn(|c| div255(u32::from(src[c]) * u32::from(coverage)));
    let keep = 255 - src[3];
    for (d, s) in dst.iter_mut().zip(src) {
        // At most alpha plus what it leaves: never over 255.
        *d = (s + div255(u32::from(*d) * keep)) as u8;
    }
}

/// `v` / 255, rounded, for `v` up to 255 x 255.
fn div255(v: u32) -> u32 {
    let v = v + 128;
    (v + (v >> 8)) >> 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_matches_exact_source_over_within_rounding() {
        for (src, coverage) in [
            ([128, 0, 0, 128], 64),
            ([40, 80, 120, 200], 255),
            ([9, 9, 9, 255], 200),
        ] {
            let mut dst = [100, 150, 200, 255];
            over(&mut dst, &src, coverage);
            let c = f64::from(coverage) / 255.0;
            let keep = 1.0 - f64::from(src[3]) / 255.0 * c;
            for i in 0..4 {
                let want = f64::from(src[i]) * c + f64::from([100, 150, 200, 255][i]) * keep;
                assert!(
                    (f64::from(dst[i]) - want).abs() <= 1.0,
                    "{src:?} at {coverage}: {dst:?}"
                );
            }
        }
        let mut dst = [1, 2, 3, 4];
        over(&mut dst, &[200, 200, 200, 255], 0);
        assert_eq!(dst, [1, 2, 3, 4], "no coverage, no change");
        over(&mut dst, &[10, 20, 30, 255], 255);
        assert_eq!(dst, [10, 20, 30, 255], "opaque at full coverage is copied");
    }
}
