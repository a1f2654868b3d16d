//! Pixel conversions for the encoders: tiny-skia's premultiplied RGBA to the straight RGB or
//! RGBA rows the file formats store.

use tiny_skia::Pixmap;

/// The channels a file stores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Channels {
    /// Opaque: red, green, blue.
    Rgb,
    /// With straight (not premultiplied) alpha.
    Rgba,
}

pub(super) fn row_bytes(pixmap: &Pixmap) -> usize {
    pixmap.width() as usize * 4
}

/// Appends premultiplied opaque RGBA rows of `width` pixels as PNG rows without a filter.
pub(super) fn unfiltered_rgb_rows(rgba: &[u8], width: usize, out: &mut Vec<u8>) {
    for row in rgba.chunks_exact(width * 4) {
        out.push(0); // filter type None
        rgb_into(row, out);
    }
}

/// Appends the RGB of premultiplied RGBA pixels known to be opaque.
pub(super) fn rgb_into(rgba: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + rgba.len() / 4 * 3, 0);
    for (rgb, pixel) in out[start..].chunks_exact_mut(3).zip(rgba.chunks_exact(4)) {
        rgb.copy_from_slice(&pixel[..3]);
    }
}

/// Appends opaque premultiplied RGBA rows of `width` pixels as PNG rows: the first with the
/// Sub filter, the others with Paeth.
pub(super) fn paeth_rgb_rows(rgba: &[u8], width: usize, out: &mut Vec<u8>) {
    let mut raw = Vec::with_capacity(rgba.len() / 4 * 3);
    rgb_into(rgba, &mut raw);
    let stride = width * 3;
    for (y, row) in raw.chunks_exact(stride).enumerate() {
        let up = y.checked_sub(1).map(|y| &raw[y * stride..][..stride]);
        out.push(if up.is_some() { 4 } else { 1 }); // Paeth, Sub
        for x in 0..stride {
            let a = if x >= 3 { row[x - 3] } else { 0 };
            let predicted = match up {
                None => a,
                Some(up) => {
                    let (b, c) = (up[x], if x >= 3 { up[x - 3] } else { 0 });
                    paeth(a, b, c)
                }
            };
            out.push(row[x].wrapping_sub(predicted));
        }
    }
}

/// The PNG Paeth predictor: of left, up and up-left, the one nearest `left + up - upleft`.
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Whether every pixel of premultiplied RGBA data is opaque.
pub(super) fn is_opaque(rgba: &[u8]) -> bool {
    // Every pixel ANDed together as a little-endian word, whose top byte is then the AND of
    // the alphas: no strided access and no early exit inside a run of 256 pixels, so this
    // vectorises. (The pixel count is whole: RGBA comes in fours.)
    rgba.chunks(1024).all(|run| {
        let words = run.chunks_exact(4);
        let all = words.fold(u32::MAX, |all, p| {
            all & u32::from_le_bytes(p.try_into().expect("4 bytes"))
        });
        all >> 24 == 255
    })
}

/// Appends premultiplied RGBA pixels as straight RGBA.
fn straight_rgba_into(rgba: &[u8], out: &mut Vec<u8>) {
    out.reserve(rgba.len());
    for p in rgba.chunks_exact(4) {
        let c = tiny_skia::PremultipliedColorU8::from_rgba(p[0], p[1], p[2], p[3])
            .expect("tiny-skia pixels are premultiplied")
            .demultiply();
        out.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
}

/// Straight (non-premultiplied) pixels into `out`: RGB when every pixel is opaque, else RGBA.
pub(super) fn straight_pixels(pixmap: &Pixmap, out: &mut Vec<u8>) -> Channels {
    let data = pixmap.data();
    if is_opaque(data) {
        rgb_into(data, out);
        Channels::Rgb
    } else {
        straight_rgba_into(data, out);
        Channels::Rgba
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_means_every_alpha_is_255() {
        // Lengths around the runs' size, and one pixel less than opaque at each place.
        for pixels in [1, 7, 255, 256, 257, 600] {
            let mut rgba = vec![255u8; pixels * 4];
            assert!(is_opaque(&rgba), "{pixels} opaque pixels");
            for at in 0..pixels {
                rgba[at * 4 + 3] = 254;
                assert!(!is_opaque(&rgba), "pixel {at} of {pixels}");
                rgba[at * 4 + 3] = 255;
                rgba[at * 4] = 0; // colour bytes do not count
                assert!(is_opaque(&rgba), "pixel {at} of {pixels}, dark");
            }
        }
    }
}
