//! Drawing a tree node by node, the plain ones (shapes and text straight onto the canvas) in
//! strips of rows drawn on the render threads at once.
//!
//! Each root-level node is drawn the same way whatever tree it is in, so a card drawn over
//! its found background (its leading nodes drawn before, alone) has the pixels of the card
//! drawn in one pass. Strips are fixed rows, so the same nodes always give the same pixels;
//! they match a drawing in one go except at a few anti-aliased edges of curves, which each
//! strip steps from its own coordinates.

use rayon::prelude::*;
use tiny_skia::{Pixmap, PixmapMut, Transform};

/// Pixel rows per strip.
const STRIP_ROWS: usize = 64;

/// Whether `tree` can be drawn node by node: resvg draws a single node only where it has a
/// box, which a horizontal or vertical line's path lacks.
pub fn draws_node_by_node(tree: &usvg::Tree) -> bool {
    tree.root().children().iter().all(|node| {
        node.abs_layer_bounding_box().is_some()
            || matches!(node, usvg::Node::Path(path) if path.stroke().is_none())
    })
}

/// Draws `tree` onto `pixmap`, over `first`'s pixels copied in if given: node by node (plain
/// nodes in strips, see the module docs) if `by_node`, else all in one go.
pub(super) fn draw(
    tree: &usvg::Tree,
    transform: Transform,
    pixmap: &mut Pixmap,
    by_node: bool,
    first: Option<&Pixmap>,
) {
    if !by_node {
        if let Some(first) = first {
            pixmap.data_mut().copy_from_slice(first.data());
        }
        resvg::render(tree, transform, &mut pixmap.as_mut());
        return;
    }
    let mut first = first;
    for run in tree.root().children().chunk_by(|a, b| plain(a) == plain(b)) {
        if plain(&run[0]) {
            in_strips(run, transform, pixmap, first.take());
        } else {
            if let Some(first) = first.take() {
                pixmap.data_mut().copy_from_slice(first.data());
            }
            for node in run {
                draw_node(node, transform, &mut pixmap.as_mut());
            }
        }
    }
    if let Some(first) = first {
        pixmap.data_mut().copy_from_slice(first.data());
    }
}

/// Draws `nodes` in strips of [`STRIP_ROWS`] rows, in parallel, each strip first taking
/// `first`'s rows if given.
fn in_strips(
    nodes: &[usvg::Node],
    transform: Transform,
    pixmap: &mut Pixmap,
    first: Option<&Pixmap>,
) {
    let width = pixmap.width();
    let row_bytes = width as usize * 4;
    let strip_bytes = row_bytes * STRIP_ROWS;
    let firsts: Vec<Option<&[u8]>> = match first {
        Some(first) => first.data().chunks(strip_bytes).map(Some).collect(),
        None => vec![None; pixmap.data().len().div_ceil(strip_bytes)],
    };
    (pixmap.data_mut().par_chunks_mut(strip_bytes))
        .zip(firsts)
        .enumerate()
        .for_each(|(i, (strip, first))| {
            if let Some(first) = first {
                strip.copy_from_slice(first);
            }
            let rows = (strip.len() / row_bytes) as u32;
            let mut canvas =
                PixmapMut::from_bytes(strip, width, rows).expect("a strip holds whole rows");
            let shifted = transform.post_translate(0.0, -((i * STRIP_ROWS) as f32));
            for node in nodes {
                draw_node(node, shifted, &mut canvas);
            }
        });
}

/// Draws one root-level node as `resvg::render` draws it in its tree.
fn draw_node(node: &usvg::Node, transform: Transform, canvas: &mut PixmapMut) {
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
    use crate::raster::{Under, rasterize};

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
            };
            let over = rasterize(&rest, scale, u64::MAX, Some(under)).unwrap();
            let one_pass = rasterize(&tree(SHAPES), scale, u64::MAX, None).unwrap();
            assert_eq!(over.data(), one_pass.data(), "scale {scale}");
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
