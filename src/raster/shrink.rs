//! Photos shrunk by area: each pixel of the smaller photo is the average of the source area
//! it covers, rows merged first (whole rows at a time, in 16-bit lanes), then pixels along
//! each merged row. A bicubic filter reads only 4x4 source pixels, so a photo shrunk more
//! than twice by one aliases; an area average does not. Bands of output rows are shrunk in
//! parallel.

use rayon::prelude::*;
use tiny_skia::Pixmap;

/// Fixed-point weights, which sum to this for each output pixel: a row merged from rows of
/// bytes then fits 16-bit lanes, which the vector units of every x86-64 multiply.
const ONE: u16 = 1 << 8;

/// Output rows shrunk together, merging source rows into a buffer of their own.
const BAND_ROWS: usize = 32;

/// `src` shrunk to `width` x `height` (each at most `src`'s), each pixel the average of the
/// source area it covers (premultiplied, so edges against transparency stay clean). Rows are
/// merged first, whole rows at a time, then pixels along each merged row.
pub(super) fn shrink(src: &Pixmap, width: u32, height: u32) -> Option<Pixmap> {
    let columns = Taps::new(
        &spans(src.width() as usize, width as usize),
        src.width() as usize,
    );
    let rows = spans(src.height() as usize, height as usize);
    let mut out = Pixmap::new(width, height)?;
    let out_row = width as usize * 4;
    let bands = out.data_mut().par_chunks_mut(out_row * BAND_ROWS);
    (bands.zip(rows.par_chunks(BAND_ROWS)))
        .for_each(|(lines, spans)| shrink_band(src, &columns, spans, lines));
    Some(out)
}

/// Fills `lines`, output rows whose source rows are `spans`: each span's rows merged into
/// one, then its pixels along it by `columns`.
fn shrink_band(src: &Pixmap, columns: &Taps, spans: &[Span], lines: &mut [u8]) {
    let src_row = src.width() as usize * 4;
    let out_row = columns.first.len() * 4;
    // One merged row: each byte times 256, at most 255 x 256.
    let mut merged = vec![0u16; src_row];
    for (span, line) in spans.iter().zip(lines.chunks_exact_mut(out_row)) {
        merged.fill(0);
        for (i, &w) in span.weights.iter().enumerate() {
            let from = &src.data()[(span.first + i) * src_row..][..src_row];
            for (sum, &v) in merged.iter_mut().zip(from) {
                *sum += w * u16::from(v);
            }
        }
        match columns.count {
            1 => merge_pixels::<1>(columns, &merged, line),
            2 => merge_pixels::<2>(columns, &merged, line),
            3 => merge_pixels::<3>(columns, &merged, line),
            4 => merge_pixels::<4>(columns, &merged, line),
            _ => merge_pixels::<0>(columns, &merged, line),
        }
    }
}

/// Merges the pixels of `merged`, a row merged from rows, along it into `line`; `N` is the
/// taps' count if 1 to 4 (a loop the compiler unrolls), else 0.
fn merge_pixels<const N: usize>(taps: &Taps, merged: &[u16], line: &mut [u8]) {
    let count = if N == 0 { taps.count } else { N };
    let per_pixel = taps.first.iter().zip(taps.weights.chunks_exact(count));
    for ((&first, weights), px) in per_pixel.zip(line.chunks_exact_mut(4)) {
        let from = &merged[first * 4..][..count * 4];
        let mut sum = [0u32; 4];
        for (&w, m) in weights.iter().zip(from.chunks_exact(4)) {
            for c in 0..4 {
                sum[c] += u32::from(w) * u32::from(m[c]);
            }
        }
        // 8 bits of weight twice.
        let value = |c: usize| ((sum[c] + (1 << 15)) >> 16) as u8;
        let alpha = value(3);
        // Premultiplied colour never exceeds alpha; rounding apart, averaging keeps it so.
        px.copy_from_slice(&[
            value(0).min(alpha),
            value(1).min(alpha),
            value(2).min(alpha),
            alpha,
        ]);
    }
}

/// Spans with as many weights each (zeros added, and the first moved back where a span
/// ends at the edge), flattened: every pixel then runs the same short loop.
struct Taps {
    first: Vec<usize>,
    weights: Vec<u16>,
    /// Weights per pixel.
    count: usize,
}

impl Taps {
    /// `spans` along a side of `from` pixels.
    fn new(spans: &[Span], from: usize) -> Taps {
        let count = spans.iter().map(|s| s.weights.len()).max().unwrap_or(1);
        let mut taps = Taps {
            first: Vec::with_capacity(spans.len()),
            weights: Vec::with_capacity(spans.len() * count),
            count,
        };
        for span in spans {
            let first = span.first.min(from - count);
            let lead = span.first - first;
            taps.first.push(first);
            taps.weights.extend(std::iter::repeat_n(0, lead));
            taps.weights.extend(&span.weights);
            let trail = count - lead - span.weights.len();
            taps.weights.extend(std::iter::repeat_n(0, trail));
        }
        taps
    }
}

/// The source pixels one output pixel covers: the first, and the weight of each (of [`ONE`]).
struct Span {
    first: usize,
    weights: Vec<u16>,
}

/// For each of `to` output pixels along a side of `from` source pixels, the source pixels
/// it covers and how much of each.
fn spans(from: usize, to: usize) -> Vec<Span> {
    let ratio = from as f64 / to as f64;
    (0..to)
        .map(|i| {
            let (start, end) = (i as f64 * ratio, ((i + 1) as f64 * ratio).min(from as f64));
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).clamp(first + 1, from);
            // Cumulative rounding, so that the weights sum to exactly ONE.
            let at = |x: f64| ((x - start) / (end - start) * f64::from(ONE)).round() as u16;
            let weights = (first..last)
                .map(|j| at((j as f64 + 1.0).min(end)) - at((j as f64).max(start)))
                .collect();
            Span { first, weights }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_every_source_pixel_once() {
        for (from, to) in [(1200, 550), (7, 3), (640, 640), (1000, 1), (3, 2)] {
            let spans = spans(from, to);
            let mut covered = vec![0u32; from];
            for span in &spans {
                assert_eq!(span.weights.iter().sum::<u16>(), ONE, "{from} to {to}");
                for (i, w) in span.weights.iter().enumerate() {
                    covered[span.first + i] += u32::from(*w);
                }
            }
            // Each source pixel gives the same share in all: to / from of ONE.
            let share = f64::from(ONE) * to as f64 / from as f64;
            for c in covered {
                assert!(
                    (f64::from(c) - share).abs() <= 2.0,
                    "{from} to {to}: {c} vs {share}"
                );
            }
        }
    }

    #[test]
    fn taps_weigh_the_pixels_their_spans_weigh() {
        for (from, to) in [
            (1200, 550),
            (7, 3),
            (640, 640),
            (1000, 1),
            (3, 2),
            (1000, 9),
        ] {
            let spans = spans(from, to);
            let taps = Taps::new(&spans, from);
            let pixels: Vec<u32> = (0..from as u32).map(|i| i * 7919 % 256).collect();
            for (j, span) in spans.iter().enumerate() {
                let by_span: u32 = (span.weights.iter().enumerate())
                    .map(|(i, &w)| u32::from(w) * pixels[span.first + i])
                    .sum();
                let weights = &taps.weights[j * taps.count..][..taps.count];
                let by_taps: u32 = (weights.iter().enumerate())
                    .map(|(k, &w)| u32::from(w) * pixels[taps.first[j] + k])
                    .sum();
                assert_eq!(by_taps, by_span, "{from} to {to}, pixel {j}");
            }
        }
    }

    #[test]
    fn fine_detail_shrinks_to_its_average_not_to_moire() {
        let mut stripes = Pixmap::new(300, 300).unwrap();
        for (i, p) in stripes.pixels_mut().iter_mut().enumerate() {
            let v = if i % 2 == 0 { 0 } else { 255 };
            *p = tiny_skia::ColorU8::from_rgba(v, v, v, 255).premultiply();
        }
        // Halved, each pixel covers one black and one white column.
        for p in shrink(&stripes, 150, 120).unwrap().pixels() {
            assert!(p.red().abs_diff(128) <= 1 && p.alpha() == 255, "{p:?}");
        }
        // Shrunk 2.19 times, each covers a little more of one colour than of the other;
        // sampling (what aliases) would give black or white.
        for p in shrink(&stripes, 137, 120).unwrap().pixels() {
            assert!((110..=146).contains(&p.red()), "{p:?}");
        }
    }
}
