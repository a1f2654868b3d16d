//! Drawing a tree node by node, the plain ones (shapes and text straight onto the canvas) in
//! strips of rows drawn on the render threads at once.
//!
//! Each root-level node is drawn the same way whatever tree it is in, so a card drawn over
//! its found background (its leading nodes drawn before, alone) has the pixels of the card
//! drawn in one pass. Strips are fixed rows, so the same nodes always give the same pixels;
//! they match a drawing in one go except at a few anti-aliased edges of curves, which each
//! strip steps from its own coordinates, and plain text, drawn from glyph masks (see
//! [`glyphs`](super::glyphs)).

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;
use tiny_skia::{Pixmap, PixmapMut, Transform};

use super::glyphs;

/// Pixel rows per strip.
const STRIP_ROWS: usize = 64;

/// Whether `tree` can be drawn node by node: resvg draws a single node only where it has a
/// box, which a horizontal or vertical line's path lacks.
pub fn draws_node_by_node(tree: &usvg::Tree) -> bool {
    tree.root().children().iter().all(drawn_alone)
}

/// Whether any of `ranges` (of rows) meets `rows`.
pub fn any_meets(ranges: &[Range<u32>], rows: Range<u32>) -> bool {
    (ranges.iter()).any(|r| r.start < rows.end && rows.start < r.end)
}

/// Pixels a drawing starts from, and the rows of the canvas that do not hold them yet.
pub(super) struct First<'a> {
    /// The pixels, of the canvas's size.
    pub pixels: &'a Pixmap,
    /// Rows to take from them, in order; the canvas holds them already everywhere else.
    pub stale: &'a [Range<u32>],
}

impl First<'_> {
    /// Takes the stale rows among `rows` (a strip of the canvas, `canvas` its bytes) from
    /// the pixels.
    fn restore(&self, rows: Range<u32>, canvas: &mut [u8]) {
        let row_bytes = self.pixels.width() as usize * 4;
        for stale in self.stale {
            let (top, bottom) = (rows.start.max(stale.start), rows.end.min(stale.end));
            if top < bottom {
                let skip = (top - rows.start) as usize * row_bytes;
                let from =
                    &self.pixels.data()[top as usize * row_bytes..bottom as usize * row_bytes];
                canvas[skip..skip + from.len()].copy_from_slice(from);
            }
        }
    }
}

/// The rows `tree`'s nodes may draw on at `transform`, drawn node by node, in order and
/// apart: the boxes of what they draw (strokes and filters included; a path's layer box is
/// its fill's) with a margin for anti-aliasing.
pub(super) fn rows_drawn(tree: &usvg::Tree, transform: Transform) -> Vec<Range<u32>> {
    /// Rows beyond a box that anti-aliasing may touch, and more.
    const MARGIN: f32 = 2.0;
    let boxes = (tree.root().children().iter()).filter_map(|node| {
        // `draw_node` draws nothing where there is no layer box.
        let layer = node.abs_layer_bounding_box()?;
        let stroke = node.abs_stroke_bounding_box();
        let (top, bottom) = (
            layer.top().min(stroke.top()),
            layer.bottom().max(stroke.bottom()),
        );
        tiny_skia::Rect::from_ltrb(layer.left(), top, layer.right(), bottom)?.transform(transform)
    });
    let mut rows: Vec<Range<u32>> = boxes
        .map(|b| {
            let top = (b.top().floor() - MARGIN).max(0.0) as u32;
            let bottom = (b.bottom().ceil() + MARGIN).max(0.0) as u32;
            top..bottom.max(top)
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.start);
    let mut apart: Vec<Range<u32>> = Vec::with_capacity(rows.len());
    for r in rows {
        match apart.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => apart.push(r),
        }
    }
    apart
}

/// Draws `tree` onto `pixmap`, over `first`'s pixels if given: node by node (plain nodes in
/// strips, see the module docs) if `by_node`, else all in one go. Node by node, nothing is
/// drawn outside rows `drawn` (see [`rows_drawn`]).
pub(super) fn draw(
    tree: &usvg::Tree,
    transform: Transform,
    pixmap: &mut Pixmap,
    by_node: bool,
    first: Option<First>,
    drawn: &[Range<u32>],
) {
    let every_row = 0..pixmap.height();
    let restore =
        |first: &First, pixmap: &mut Pixmap| first.restore(every_row.clone(), pixmap.data_mut());
    if !by_node {
        if let Some(first) = &first {
            restore(first, pixmap);
        }
        resvg::render(tree, transform, &mut pixmap.as_mut());
        return;
    }
    let mut first = first;
    for run in tree.root().children().chunk_by(|a, b| plain(a) == plain(b)) {
        if plain(&run[0]) {
            in_strips(run, tree.fontdb(), transform, pixmap, first.take(), drawn);
        } else {
            if let Some(first) = first.take() {
                restore(&first, pixmap);
            }
            for node in run {
                draw_node(node, transform, &mut pixmap.as_mut());
            }
        }
    }
    if let Some(first) = first {
        restore(&first, pixmap);
    }
}

/// Draws `nodes` in strips of [`STRIP_ROWS`] rows, in parallel, each strip first taking its
/// stale rows from `first` if given; strips outside `drawn` are not drawn on.
fn in_strips(
    nodes: &[usvg::Node],
    fontdb: &Arc<fontdb::Database>,
    transform: Transform,
    pixmap: &mut Pixmap,
    first: Option<First>,
    drawn: &[Range<u32>],
) {
    let width = pixmap.width();
    let row_bytes = width as usize * 4;
    // Plain text's glyphs are placed once, for every strip to blend its rows of.
    let mut drawings = Vec::new();
    drawings_of(nodes, fontdb, transform, &mut drawings);
    (pixmap.data_mut().par_chunks_mut(row_bytes * STRIP_ROWS))
        .enumerate()
        .for_each(|(i, strip)| {
            let top = (i * STRIP_ROWS) as u32;
            let rows = top..top + (strip.len() / row_bytes) as u32;
            if let Some(first) = &first {
                first.restore(rows.clone(), strip);
            }
            if !any_meets(drawn, rows.clone()) {
                return;
            }
            let mut canvas = PixmapMut::from_bytes(strip, width, rows.end - rows.start)
                .expect("a strip holds whole rows");
            for drawing in &drawings {
                match drawing {
                    Drawing::Glyphs(glyphs) => glyphs.blend(&mut canvas, rows.start as i32),
                    Drawing::Node(node, at) => {
                        let shifted = at.post_translate(0.0, -(rows.start as f32));
                        draw_node(node, shifted, &mut canvas)
                    }
                }
            }
        });
}

/// How a node in strips is drawn: plain text from glyph masks, the rest by resvg.
enum Drawing<'a> {
    Glyphs(glyphs::PlacedGlyphs),
    /// A node and the transform it is drawn at.
    Node(&'a usvg::Node, Transform),
}

/// How `nodes` (plain, see [`plain`]) are drawn at `transform`, in order, onto `out`: the
/// children of a group one by one (its text may then be plain text) where each can be drawn
/// alone, as [`draws_node_by_node`] asks of a tree's root.
fn drawings_of<'a>(
    nodes: &'a [usvg::Node],
    fontdb: &Arc<fontdb::Database>,
    transform: Transform,
    out: &mut Vec<Drawing<'a>>,
) {
    for node in nodes {
        match node {
            usvg::Node::Text(text) => match glyphs::place(text, fontdb, transform) {
                Some(glyphs) => out.push(Drawing::Glyphs(glyphs)),
                None => out.push(Drawing::Node(node, transform)),
            },
            usvg::Node::Group(group) if group.children().iter().all(drawn_alone) => {
                let inner = transform.pre_concat(group.transform());
                drawings_of(group.children(), fontdb, inner, out);
            }
            _ => out.push(Drawing::Node(node, transform)),
        }
    }
}

/// Whether `node` is drawn as it is in its tree when drawn alone (see [`draw_node`]).
fn drawn_alone(node: &usvg::Node) -> bool {
    node.abs_layer_bounding_box().is_some()
        || matches!(node, usvg::Node::Path(path) if path.stroke().is_none())
}

/// Draws one root-level node as `resvg::render` draws it in its tree (a photo at its size:
/// see [`images`](super::images)).
fn draw_node(node: &usvg::Node, transform: Transform, canvas: &mut PixmapMut) {
    if super::images::draw(node, transform, canvas) {
        return;
    }
    // resvg draws a single node at its box's origin; shifted back, it lands where it belongs.
    if let Some(bbox) = node.abs_layer_bounding_box() {
        resvg::render_node(node, transform.pre_translate(bbox.x(), bbox.y()), canvas);
    }
}

/// Whether `node` draws straight onto the canvas, with no layer (opacity, clip, mask,
/// filter), image or pattern: each strip would draw one of those whole (and a filter would
/// see only the strip), so they are drawn once, on the whole canvas.
fn plain(node: &usvg::Node) -> bool {
    let paint = |paint: Option<&usvg::Paint>| !matches!(paint, Some(usvg::Paint::Pattern(_)));
    let group = |group: &usvg::Group| !group.should_isolate() && group.children().iter().all(plain);
    match node {
        usvg::Node::Group(g) => group(g),
        usvg::Node::Path(path) => {
            paint(path.fill().map(|f| f.paint())) && paint(path.stroke().map(|s| s.paint()))
        }
        usvg::Node::Text(text) => group(text.flattened()),
        usvg::Node::Image(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::{Canvas, EVERY_ROW, Under, rasterize, rasterize_reusing};

    fn tree(svg: &str) -> usvg::Tree {
        usvg::Tree::from_str(svg, &usvg::Options::default()).expect("test svg parses")
    }

    /// `svg` drawn by resvg in one go, as a reference.
    fn drawn_whole(svg: &str, scale: f32) -> Pixmap {
        let tree = tree(svg);
        let size = tree.size().to_int_size().scale_by(scale).unwrap();
        let mut pixmap = Pixmap::new(size.width(), size.height()).unwrap();
        resvg::render(
            &tree,
            Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        pixmap
    }

    const SHAPES: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">
        <defs><linearGradient id="g" x2="1" y2="1">
            <stop offset="0" stop-color="#0b1020"/><stop offset="1" stop-color="#3a2a80"/>
        </linearGradient></defs>
        <rect width="300" height="200" fill="url(#g)"/>
        <circle cx="240" cy="40" r="90" fill="#ffffff" fill-opacity="0.2"/>
        <g><ellipse cx="60" cy="150" rx="50" ry="70" fill="none" stroke="#f0c040" stroke-width="3"/></g>
        <path d="M10 10 L290 120 L40 190 Z" fill="#ff3060" fill-opacity="0.5"/>
    </svg>"##;

    #[test]
    fn shapes_drawn_in_strips_match_shapes_drawn_whole() {
        assert!(draws_node_by_node(&tree(SHAPES)));
        for scale in [1.0, 2.0] {
            let strips = rasterize(&tree(SHAPES), scale, u64::MAX, None).unwrap();
            let whole = drawn_whole(SHAPES, scale);
            let pairs = strips.data().iter().zip(whole.data());
            let differ = pairs.clone().filter(|(a, b)| a != b).count();
            let most = pairs.map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            // Only anti-aliased edges of curves differ, a little.
            assert!(most <= 64, "scale {scale}: a channel differs by {most}");
            assert!(
                differ * 200 < whole.data().len(),
                "scale {scale}: {differ} of {} bytes differ",
                whole.data().len()
            );
        }
    }

    #[test]
    fn a_blur_across_strips_is_drawn_whole() {
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300">
            <filter id="b"><feGaussianBlur stdDeviation="12"/></filter>
            <rect x="20" y="40" width="160" height="220" fill="#2060ff" filter="url(#b)"/>
        </svg>"##;
        let strips = rasterize(&tree(svg), 1.0, u64::MAX, None).unwrap();
        assert_eq!(strips.data(), drawn_whole(svg, 1.0).data());
    }

    #[test]
    fn a_tree_drawn_over_its_leading_nodes_is_the_tree_drawn_in_one_pass() {
        let (head, tail) = SHAPES.split_at(SHAPES.find("<g>").unwrap());
        let leading = tree(&format!("{head}</svg>"));
        let rest = tree(&format!("{}{tail}", &head[..head.find('>').unwrap() + 1]));
        for scale in [1.0, 2.0] {
            let pixels = rasterize(&leading, scale, u64::MAX, None).unwrap();
            let under = Under {
                tree: &leading,
                pixels: &pixels,
                node_by_node_over: draws_node_by_node(&leading),
                id: 0,
            };
            let over = rasterize(&rest, scale, u64::MAX, Some(under)).unwrap();
            let one_pass = rasterize(&tree(SHAPES), scale, u64::MAX, None).unwrap();
            assert_eq!(over.data(), one_pass.data(), "scale {scale}");
        }
    }

    #[test]
    fn a_canvas_drawn_over_the_same_pixels_again_takes_back_only_the_rows_drawn_on() {
        let gradient = tree(&SHAPES.replace(&SHAPES[SHAPES.find("<circle").unwrap()..], "</svg>"));
        let card = |shape: &str| {
            let svg = format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"300\" height=\"200\">{shape}</svg>"
            );
            tree(&svg)
        };
        // A circle near the top, a blurred square near the bottom, a full-width stroke in the
        // middle, then nothing.
        let cards = [
            card(r##"<circle cx="150" cy="30" r="20" fill="#ffffff"/>"##),
            card(
                r##"<filter id="b"><feGaussianBlur stdDeviation="6"/></filter>
                <rect x="20" y="150" width="40" height="30" fill="#ff0000" filter="url(#b)"/>"##,
            ),
            card(
                r##"<path d="M0 90 C100 120 200 60 300 90" stroke="#00ff00" stroke-width="9" fill="none"/>"##,
            ),
            card(""),
            // A miter's spike, a translucent group (drawn whole, not in strips), a line with
            // square caps drawn with a shape.
            card(
                r##"<polyline points="10,120 150,60 290,120" fill="none" stroke="#ffff00"
                stroke-width="20" stroke-miterlimit="10"/>"##,
            ),
            card(
                r##"<g opacity="0.5"><rect x="10" y="120" width="100" height="20" fill="#00ffff"/></g>
                <circle cx="40" cy="40" r="10" fill="#ffffff"/>"##,
            ),
            card(
                r##"<circle cx="250" cy="20" r="10" fill="#ffffff"/>
                <path d="M10 170 L290 176" stroke="#ff00ff" stroke-width="6" stroke-linecap="square"/>"##,
            ),
        ];
        for scale in [1.0, 1.5] {
            let pixels = rasterize(&gradient, scale, u64::MAX, None).unwrap();
            let under = |id| Under {
                tree: &gradient,
                pixels: &pixels,
                node_by_node_over: true,
                id,
            };
            let mut kept: Option<Canvas> = None;
            for (i, card) in cards.iter().cycle().take(2 * cards.len() + 1).enumerate() {
                // Every third render is over other pixels (another id): all rows are taken.
                let id = u64::from(i % 3 == 2);
                let before = kept.as_ref().map(|k| (k.over, k.changed.clone()));
                let reused = rasterize_reusing(card, scale, u64::MAX, Some(under(id)), kept.take());
                let reused = reused.unwrap();
                let fresh = rasterize(card, scale, u64::MAX, Some(under(id))).unwrap();
                let row_bytes = fresh.width() as usize * 4;
                let rows = reused
                    .pixmap
                    .data()
                    .chunks(row_bytes)
                    .zip(fresh.data().chunks(row_bytes));
                let differ: Vec<usize> = (rows.enumerate())
                    .filter_map(|(y, (a, b))| (a != b).then_some(y))
                    .collect();
                assert!(
                    differ.is_empty(),
                    "card {i} at scale {scale}: rows {differ:?} differ; before: {before:?}"
                );
                // The rows drawn on are the card's, not the whole canvas.
                let changed = reused.changed_from(id);
                let rows: u32 = changed.iter().map(|r| r.end - r.start).sum();
                assert!(rows < reused.pixmap.height() / 2, "card {i}: {changed:?}");
                assert_eq!(reused.changed_from(7), EVERY_ROW, "other pixels: every row");
                kept = Some(reused);
            }
        }
    }

    #[test]
    fn a_level_stroked_line_is_drawn_with_its_tree_in_one_go() {
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">
            <circle cx="50" cy="50" r="30" fill="#ff0000"/>
            <line x1="0" y1="90" x2="100" y2="90" stroke="#00ff00" stroke-width="4"/>
        </svg>"##;
        assert!(!draws_node_by_node(&tree(svg)));
        let drawn = rasterize(&tree(svg), 1.0, u64::MAX, None).unwrap();
        assert_eq!(
            drawn.pixel(50, 90).unwrap().green(),
            255,
            "the line is drawn"
        );
        assert_eq!(drawn.data(), drawn_whole(svg, 1.0).data());
    }
}
