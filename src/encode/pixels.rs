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

/// Whether every pixel of premultiplied RGBA data is opaque.
pub(super) fn is_opaque(rgba: &[u8]) -> bool {
    // Eight pixels at a time, with no early exit inside a block: this vectorises.
    let mut blocks = rgba.chunks_exact(32);
    let blocks_opaque = blocks
        .by_ref()
        .all(|block| block.iter().skip(3).step_by(4).fold(255, |a, &b| a & b) == 255);
    blocks_opaque
        && blocks
            .remainder()
            .iter()
            .skip(3)
            .step_by(4)
            .all(|&a| a == 255)
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

/// RGB of premultiplied RGBA pixels composited over white (`c + (255 - a)`), into `out`.
pub(super) fn over_white_rows(rgba: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + rgba.len() / 4 * 3, 0);
    for (rgb, p) in out[start..].chunks_exact_mut(3).zip(rgba.chunks_exact(4)) {
        let cover = 255 - p[3];
        rgb[0] = p[0].saturating_add(cover);
        rgb[1] = p[1].saturating_add(cover);
        rgb[2] = p[2].saturating_add(cover);
    }
}
