//! Macroblocks coded band by band: a band is [`BAND_ROWS`] macroblock rows whose first row
//! predicts from its left neighbours only (mode H), so a band's code depends on its own
//! pixels and nothing above it. A band a background holds can then be reused by any image
//! whose pixels there are the background's, and bands are coded in parallel.

use tiny_skia::Pixmap;

use super::macroblock::{self, Coded, Edges, Pixels, Quant};
use super::tokens::{self, Counts};

/// Macroblock rows per band (64 px, as raster strips). Each band's first row gives up
/// predicting from above; on post, bands of 1, 2, 3, 4 and 8 rows coded 907, 870, 887, 784
/// and 1005 macroblocks over its background, its file 18.3 KB at 4 (21.4 at 1, 19.4 at 2,
/// 17.9 at 8).
pub(super) const BAND_ROWS: usize = 4;

/// A band's macroblocks, row by row, the levels of their coded blocks, and the rims of
/// their reconstruction (what the macroblocks right of and below them predict from).
pub(super) struct Band {
    pub(super) coded: Vec<Coded>,
    pub(super) levels: Vec<[i16; 16]>,
    /// Per macroblock: its right column and its bottom row.
    rims: Vec<[Rim; 2]>,
    /// How its tokens take each branch of the token tree, as if no band were above it: the
    /// frame's probabilities come from its bands' counts.
    pub(super) counts: Counts,
}

impl Band {
    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.coded.capacity() * size_of::<Coded>()
            + self.levels.capacity() * size_of::<[i16; 16]>()
            + self.rims.capacity() * size_of::<[Rim; 2]>()
            + Counts::BYTES
    }
}

/// A line of reconstructed pixels along a macroblock's side: 16 luma, 8 U, 8 V.
type Rim = [u8; 32];

/// The same band of a background, which a band over it copies macroblocks from where its
/// pixels and its edges are the background's.
#[derive(Clone, Copy)]
pub(super) struct Under<'a> {
    pub(super) pixels: &'a Pixmap,
    pub(super) band: &'a Band,
}

/// Macroblocks across and down a `width`x`height` image.
pub(super) fn macroblocks(width: u32, height: u32) -> (usize, usize) {
    (
        (width as usize).div_ceil(16),
        (height as usize).div_ceil(16),
    )
}

/// Bands down a `height`-pixel image.
pub(super) fn bands(height: u32) -> usize {
    (height as usize).div_ceil(16 * BAND_ROWS)
}

/// The pixel rows band `band` codes (clipped to the image).
pub(super) fn pixel_rows(band: usize, height: u32) -> std::ops::Range<u32> {
    let start = (band * BAND_ROWS * 16) as u32;
    start.min(height)..(start + (BAND_ROWS * 16) as u32).min(height)
}

/// Codes band `band` of opaque `pixmap`, copying what it can from `under`.
pub(super) fn code(pixmap: &Pixmap, band: usize, quant: &Quant, under: Option<Under>) -> Band {
    let (mbw, mbh) = macroblocks(pixmap.width(), pixmap.height());
    let first = band * BAND_ROWS;
    let rows = first..(first + BAND_ROWS).min(mbh);
    let mut out = Band {
        coded: Vec::with_capacity(mbw * rows.len()),
        levels: Vec::new(),
        rims: Vec::with_capacity(mbw * rows.len()),
        counts: Counts::default(),
    };
    let mut above = vec![[127u8; 32]; mbw];
    let mut src = Pixels::default();
    let mut recon = Pixels::default();
    for mby in rows {
        let only_h = mby == first && mby > 0;
        let mut left = [129u8; 32];
        let mut corner = [0u8; 3];
        #[allow(clippy::needless_range_loop)] // `mbx` also names the macroblock
        for mbx in 0..mbw {
            let i = out.coded.len();
            let next_corner = [above[mbx][15], above[mbx][23], above[mbx][31]];
            let same = under.filter(|u| {
                let rims = |j: usize| u.band.rims[j];
                let left_same = mbx == 0 || rims(i - 1)[0] == left;
                let above_same = mby == first || rims(i - mbw)[1] == above[mbx];
                let corner_same = mby == first
                    || mbx == 0
                    || rims(i - mbw - 1)[1][15] == corner[0]
                        && rims(i - mbw - 1)[1][23] == corner[1]
                        && rims(i - mbw - 1)[1][31] == corner[2];
                left_same && above_same && corner_same && same_pixels(pixmap, u.pixels, mbx, mby)
            });
            let rim = if let Some(u) = same {
                let mut coded = u.band.coded[i];
                let blocks = coded.nonzero.count_ones() as usize;
                let from = coded.start as usize;
                coded.start = out.levels.len() as u32;
                out.levels
                    .extend_from_slice(&u.band.levels[from..from + blocks]);
                out.coded.push(coded);
                u.band.rims[i]
            } else {
                source(pixmap, mbx, mby, &mut src);
                let edges = edges(mbx, mby, &left, corner, &above[mbx]);
                let coded =
                    macroblock::code(&src, &edges, only_h, quant, &mut out.levels, &mut recon);
                out.coded.push(coded);
                rims_of(&recon)
            };
            out.rims.push(rim);
            corner = next_corner;
            left = rim[0];
            above[mbx] = rim[1];
        }
    }
    for (r, row) in out.coded.chunks(mbw).enumerate() {
        let above = r.checked_sub(1).map(|a| &out.coded[a * mbw..(a + 1) * mbw]);
        tokens::put_row(&mut out.counts, above, row, &out.levels);
    }
    out.levels.shrink_to_fit(); // kept as long as its background, or until the next card's
    out
}

/// The right column and bottom row of a reconstructed macroblock.
fn rims_of(recon: &Pixels) -> [Rim; 2] {
    let right = std::array::from_fn(|i| match i {
        0..16 => recon.y[i * 16 + 15],
        16..24 => recon.u[(i - 16) * 8 + 7],
        _ => recon.v[(i - 24) * 8 + 7],
    });
    let mut bottom = [0u8; 32];
    bottom[..16].copy_from_slice(&recon.y[240..]);
    bottom[16..24].copy_from_slice(&recon.u[56..]);
    bottom[24..].copy_from_slice(&recon.v[56..]);
    [right, bottom]
}

/// Whether macroblock (`mbx`, `mby`) of two pixmaps of one size holds the same pixels.
fn same_pixels(a: &Pixmap, b: &Pixmap, mbx: usize, mby: usize) -> bool {
    let (width, height) = (a.width() as usize, a.height() as usize);
    let columns = mbx * 16 * 4..((mbx + 1) * 16).min(width) * 4;
    (mby * 16..((mby + 1) * 16).min(height)).all(|y| {
        let row = y * width * 4;
        a.data()[row + columns.start..row + columns.end]
            == b.data()[row + columns.start..row + columns.end]
    })
}

/// The edges macroblock (`mbx`, `mby`) predicts from: `left` is its left neighbour's right
/// column, `corner` the pixels above-left of it, `above` the bottom row of the one above.
fn edges(mbx: usize, mby: usize, left: &Rim, corner: [u8; 3], above: &Rim) -> Edges {
    let (has_above, has_left) = (mby > 0, mbx > 0);
    let pick = |c: u8| match (has_above, has_left) {
        (false, _) => 127,
        (true, false) => 129,
        (true, true) => c,
    };
    let part = |rim: &Rim, at: usize| -> [u8; 8] { rim[at..at + 8].try_into().expect("8") };
    let (left_rim, above_rim) = if has_left {
        (*left, *above)
    } else {
        ([129; 32], *above)
    };
    Edges {
        above_y: above_rim[..16].try_into().expect("16 pixels"),
        left_y: left_rim[..16].try_into().expect("16 pixels"),
        corner_y: pick(corner[0]),
        above_u: part(&above_rim, 16),
        left_u: part(&left_rim, 16),
        corner_u: pick(corner[1]),
        above_v: part(&above_rim, 24),
        left_v: part(&left_rim, 24),
        corner_v: pick(corner[2]),
        has_above,
        has_left,
    }
}

/// Macroblock (`mbx`, `mby`) of opaque premultiplied `pixmap` in YUV 4:2:0 (BT.601 studio
/// swing, libwebp's rounding), the image's last row and column repeated past its edges.
fn source(pixmap: &Pixmap, mbx: usize, mby: usize, out: &mut Pixels) {
    let (width, height) = (pixmap.width() as usize, pixmap.height() as usize);
    let data = pixmap.data();
    // The macroblock's 16 rows of 16 pixels (RGBA), edges repeated.
    let mut rgba = [[0u8; 64]; 16];
    let x0 = mbx * 16;
    for (r, row) in rgba.iter_mut().enumerate() {
        let y = (mby * 16 + r).min(height - 1);
        let line = &data[y * width * 4..(y + 1) * width * 4];
        if x0 + 16 <= width {
            row.copy_from_slice(&line[x0 * 4..x0 * 4 + 64]);
        } else {
            for (c, px) in row.chunks_exact_mut(4).enumerate() {
                let x = (x0 + c).min(width - 1);
                px.copy_from_slice(&line[x * 4..x * 4 + 4]);
            }
        }
    }
    for (r, row) in rgba.iter().enumerate() {
        for (c, p) in row.chunks_exact(4).enumerate() {
            let [red, green, blue] = [p[0], p[1], p[2]].map(i32::from);
            let luma = 16839 * red + 33059 * green + 6420 * blue + (16 << 16) + (1 << 15);
            out.y[r * 16 + c] = (luma >> 16) as u8;
        }
    }
    let chroma = |v: i32| ((v + (1 << 17) + (128 << 18)) >> 18).clamp(0, 255) as u8;
    for r in 0..8 {
        let (top, bottom) = (&rgba[r * 2], &rgba[r * 2 + 1]);
        for c in 0..8 {
            let sum = |k: usize| {
                let i = c * 8 + k;
                i32::from(top[i])
                    + i32::from(top[i + 4])
                    + i32::from(bottom[i])
                    + i32::from(bottom[i + 4])
            };
            let (red, green, blue) = (sum(0), sum(1), sum(2));
            out.u[r * 8 + c] = chroma(-9719 * red - 19081 * green + 28800 * blue);
            out.v[r * 8 + c] = chroma(28800 * red - 24116 * green - 4684 * blue);
        }
    }
}
