//! Plain text drawn from kept glyph masks: each glyph is rasterised once per font, size and
//! quarter-pixel position, and blended onto the canvas in its span's colour from then on, as
//! browsers draw text. Filling every glyph's outline on every render (with 4x4
//! anti-aliasing) was most of a card's drawing.
//!
//! Plain text is a `<text>` (at the root or in a group drawn child by child) whose spans are
//! visible, filled with a colour, not stroked or decorated, drawn with anti-aliasing from
//! outline glyphs of static fonts, and upright at one scale; anything else is drawn by resvg. A glyph lands on the quarter pixel
//! nearest its position (at most 1/8 px from where resvg puts it).

use std::sync::{Arc, OnceLock, Weak};

use fontdb::Database;
use tiny_skia::{FillRule, IntRect, Mask, PathBuilder, PixmapMut, Transform};

use super::blend::over;
use crate::cache::{ByteCache, CacheCounters, Weigh};

/// Bytes of glyph masks kept (a 64 px glyph is about 3 KB).
pub const MASKS_BUDGET: usize = 8 * 1024 * 1024;

/// Pixels of the largest glyph drawn from a mask (a glyph about 1000 px tall); a larger one's
/// text is drawn by resvg, within the canvas it is clipped to.
const LARGEST_MASK: u64 = (MASKS_BUDGET / 8) as u64;

/// Glyphs placed on a canvas, ready to be blended strip by strip.
pub(super) struct PlacedGlyphs(Vec<Placed>);

/// One glyph's mask, where its top-left pixel goes and in what colour.
struct Placed {
    mask: Arc<GlyphMask>,
    x: i32,
    y: i32,
    /// Premultiplied RGBA.
    color: [u8; 4],
}

/// A glyph's coverage, and where it sits from the pixel its position falls in.
struct GlyphMask {
    coverage: Mask,
    left: i32,
    top: i32,
}

/// What a mask is drawn from: a font of one database, a glyph, its size in pixels per font
/// unit, the quarter-pixel offsets of its position and the fill rule.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    database: usize,
    font: fontdb::ID,
    glyph: u32,
    scale: u32,
    quarters: (u8, u8),
    even_odd: bool,
}

/// A kept mask (`None`: the glyph draws nothing), and the database its key's address names
/// (so that no other database can take that address while the entry holds it).
#[derive(Clone)]
struct Entry {
    database: Weak<Database>,
    mask: Option<Arc<GlyphMask>>,
}

impl Weigh for Entry {
    fn bytes(&self) -> usize {
        self.mask.as_ref().map_or(0, |m| m.coverage.data().len())
    }
}

/// Every kept mask, least recently used first out, shared by every engine in the process.
fn masks() -> &'static ByteCache<Key, Entry> {
    static MASKS: OnceLock<ByteCache<Key, Entry>> = OnceLock::new();
    MASKS.get_or_init(|| ByteCache::new(MASKS_BUDGET))
}

/// The glyph masks' live counters (for `/metrics`).
pub fn counters() -> CacheCounters {
    masks().counters()
}

/// `text`'s glyphs placed at `transform` if it is plain text (see the module docs), else
/// `None` (resvg draws it).
pub(super) fn place(
    text: &usvg::Text,
    fontdb: &Arc<Database>,
    transform: Transform,
) -> Option<PlacedGlyphs> {
    let flattened = text.flattened();
    let outlines_only = |node: &usvg::Node| matches!(node, usvg::Node::Path(p) if p.rendering_mode().use_shape_antialiasing());
    if !flattened.transform().is_identity() || !flattened.children().iter().all(outlines_only) {
        return None;
    }
    let mut placed = Vec::new();
    for span in text.layouted().iter().filter(|span| span.visible) {
        let plain = span.stroke.is_none()
            && span.underline.is_none()
            && span.overline.is_none()
            && span.line_through.is_none();
        let fill = span.fill.as_ref().filter(|_| plain)?;
        let usvg::Paint::Color(c) = fill.paint() else {
            return None;
        };
        let color = tiny_skia::ColorU8::from_rgba(c.red, c.green, c.blue, fill.opacity().to_u8())
            .premultiply();
        let color = [color.red(), color.green(), color.blue(), color.alpha()];
        let even_odd = fill.rule() == usvg::FillRule::EvenOdd;
        for glyph in &span.positioned_glyphs {
            let ts = transform.pre_concat(glyph.outline_transform());
            // Upright at one scale: x to the right, y flipped (outlines are y-up).
            let upright = ts.kx == 0.0 && ts.ky == 0.0 && ts.sx > 0.0 && ts.sy == -ts.sx;
            if !upright || !ts.tx.is_finite() || !ts.ty.is_finite() {
                return None;
            }
            let (x, qx) = quarters(ts.tx);
            let (y, qy) = quarters(ts.ty);
            let key = Key {
                database: Arc::as_ptr(fontdb) as usize,
                font: glyph.font,
                glyph: glyph.id.0,
                scale: ts.sx.to_bits(),
                quarters: (qx, qy),
                even_odd,
            };
            // A glyph without an outline in a font that has outlines draws nothing (a space);
            // one whose font has none (a bitmap) cannot be drawn here.
            if let Some(mask) = mask(key, fontdb)? {
                placed.push(Placed {
                    x: x + mask.left,
                    y: y + mask.top,
                    mask,
                    color,
                });
            }
        }
    }
    Some(PlacedGlyphs(placed))
}

/// `v` as a whole pixel and the quarters past it, to the nearest quarter.
fn quarters(v: f32) -> (i32, u8) {
    let q = (v * 4.0).round() as i64;
    ((q.div_euclid(4)) as i32, q.rem_euclid(4) as u8)
}

/// The mask for `key`, kept or drawn now: `None` if the font is variable or not outlines or
/// the glyph too large, `Some(None)` for a glyph that draws nothing.
fn mask(key: Key, fontdb: &Arc<Database>) -> Option<Option<Arc<GlyphMask>>> {
    if let Some(kept) = masks().get(&key)
        && (kept.database.upgrade()).is_some_and(|db| Arc::ptr_eq(&db, fontdb))
    {
        return Some(kept.mask);
    }
    let mask = draw_mask(key, fontdb)?.map(Arc::new);
    let database = Arc::downgrade(fontdb);
    masks().insert(
        key,
        Entry {
            database,
            mask: mask.clone(),
        },
    );
    Some(mask)
}

/// Rasterises the glyph of `key` with anti-aliasing, as resvg fills its outline (`None`:
/// not here, see [`mask`]).
fn draw_mask(key: Key, fontdb: &Database) -> Option<Option<GlyphMask>> {
    let outline = fontdb.with_face_data(key.font, |data, index| {
        let face = ttf_parser::Face::parse(data, index).ok()?;
        if face.is_variable() || !(face.tables().glyf.is_some() || face.tables().cff.is_some()) {
            return None;
        }
        let mut pen = Pen(PathBuilder::new());
        face.outline_glyph(
            ttf_parser::GlyphId(u16::try_from(key.glyph).ok()?),
            &mut pen,
        );
        Some(pen.0.finish())
    })??;
    let Some(outline) = outline else {
        return Some(None);
    };
    let scale = f32::from_bits(key.scale);
    let (qx, qy) = (f32::from(key.quarters.0), f32::from(key.quarters.1));
    let at = Transform::from_row(scale, 0.0, 0.0, -scale, qx / 4.0, qy / 4.0);
    let Some(bounds) = outline.bounds().transform(at) else {
        return Some(None);
    };
    // A pixel of room each side for anti-aliasing.
    let left = bounds.left().floor() as i32 - 1;
    let top = bounds.top().floor() as i32 - 1;
    let width = (bounds.right().ceil() as i32 + 1 - left).max(1) as u32;
    let height = (bounds.bottom().ceil() as i32 + 1 - top).max(1) as u32;
    if u64::from(width) * u64::from(height) > LARGEST_MASK {
        return None;
    }
    let mut coverage = Mask::new(width, height)?;
    let rule = match key.even_odd {
        true => FillRule::EvenOdd,
        false => FillRule::Winding,
    };
    let shifted = at.post_translate(-left as f32, -top as f32);
    coverage.fill_path(&outline, rule, true, shifted);
    Some(Some(GlyphMask {
        coverage,
        left,
        top,
    }))
}

/// Collects a glyph outline as a path.
struct Pen(PathBuilder);

impl ttf_parser::OutlineBuilder for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

impl PlacedGlyphs {
    /// Blends the glyphs onto `canvas`, whose first row is row `top` of the whole canvas.
    pub(super) fn blend(&self, canvas: &mut PixmapMut, top: i32) {
        let (width, height) = (canvas.width() as i32, canvas.height() as i32);
        let Some(bounds) = IntRect::from_xywh(0, 0, width as u32, height as u32) else {
            return;
        };
        let stride = width as usize * 4;
        let data = canvas.data_mut();
        for glyph in &self.0 {
            let coverage = &glyph.mask.coverage;
            let (x, y) = (glyph.x, glyph.y - top);
            let Some(area) = IntRect::from_xywh(x, y, coverage.width(), coverage.height())
                .and_then(|r| r.intersect(&bounds))
            else {
                continue;
            };
            for row in area.top()..area.bottom() {
                let mask_row = (row - y) as usize * coverage.width() as usize;
                let from = mask_row + (area.left() - x) as usize;
                let cover = &coverage.data()[from..from + area.width() as usize];
                let at = row as usize * stride + area.left() as usize * 4;
                let pixels = &mut data[at..at + area.width() as usize * 4];
                for (px, &c) in pixels.chunks_exact_mut(4).zip(cover) {
                    over(px, &glyph.color, c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::rasterize;
    use tiny_skia::Pixmap;

    /// Options whose font database holds Inter Bold only.
    fn options() -> usvg::Options<'static> {
        let mut fontdb = Database::new();
        let inter = concat!(env!("CARGO_MANIFEST_DIR"), "/fonts/10-inter/Inter-Bold.otf");
        fontdb.load_font_file(inter).expect("Inter Bold is bundled");
        usvg::Options {
            font_family: "Inter".into(),
            fontdb: Arc::new(fontdb),
            ..usvg::Options::default()
        }
    }

    fn text(attributes: &str, words: &str) -> usvg::Tree {
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"80\">\
             <text font-family=\"Inter\" font-weight=\"700\" {attributes}>{words}</text></svg>"
        );
        usvg::Tree::from_str(&svg, &options()).expect("test svg parses")
    }

    fn resvg_drawn(tree: &usvg::Tree) -> Pixmap {
        let mut pixmap = Pixmap::new(400, 80).unwrap();
        resvg::render(tree, Transform::default(), &mut pixmap.as_mut());
        pixmap
    }

    fn largest_difference(a: &Pixmap, b: &Pixmap) -> u8 {
        (a.data().iter().zip(b.data()))
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap()
    }

    #[test]
    fn a_glyph_on_a_quarter_pixel_is_the_glyph_resvg_fills() {
        // One glyph, so its position is the text's: on a quarter pixel, nothing is moved.
        let tree = text(
            r##"x="20.25" y="60.5" font-size="48" fill="#336699""##,
            "Ag",
        );
        let drawn = rasterize(&tree, 1.0, u64::MAX, None).unwrap();
        assert!(drawn.data().iter().any(|&v| v != 0), "something is drawn");
        // "A" on its quarter pixel; "g" after A's advance may move by an eighth of a pixel.
        let single = text(r##"x="20.25" y="60.5" font-size="48" fill="#336699""##, "A");
        let single_drawn = rasterize(&single, 1.0, u64::MAX, None).unwrap();
        assert!(largest_difference(&single_drawn, &resvg_drawn(&single)) <= 2);
        // Translucent colour blends as resvg blends it.
        let translucent = text(
            r##"x="20.25" y="60.5" font-size="48" fill="#336699" fill-opacity="0.5""##,
            "A",
        );
        let drawn = rasterize(&translucent, 1.0, u64::MAX, None).unwrap();
        assert!(largest_difference(&drawn, &resvg_drawn(&translucent)) <= 2);
    }

    #[test]
    fn words_land_within_an_eighth_of_a_pixel_of_resvg_s() {
        let tree = text(
            r##"x="10.3" y="55.6" font-size="40" fill="#ffffff""##,
            "Hamburgefonstiv",
        );
        let (ours, theirs) = (
            rasterize(&tree, 1.0, u64::MAX, None).unwrap(),
            resvg_drawn(&tree),
        );
        let ink = |p: &Pixmap| p.pixels().iter().map(|c| u64::from(c.alpha())).sum::<u64>();
        let (a, b) = (ink(&ours), ink(&theirs));
        assert!(a.abs_diff(b) * 100 < b, "ink {a} against resvg's {b}");
        // Moving a glyph by 1/8 px changes an edge pixel's coverage by at most a third.
        assert!(largest_difference(&ours, &theirs) < 100);
    }

    #[test]
    fn text_in_a_group_is_drawn_from_masks_where_the_group_puts_it() {
        let svg = |inner: &str| {
            let svg = format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"80\">\
                 <g transform=\"translate(10.25 -4.5)\"><text x=\"10\" y=\"60\" \
                 font-family=\"Inter\" font-weight=\"700\" font-size=\"48\" \
                 fill=\"#336699\">A</text>{inner}</g></svg>"
            );
            usvg::Tree::from_str(&svg, &options()).expect("test svg parses")
        };
        let tree = svg("");
        let drawn = rasterize(&tree, 1.0, u64::MAX, None).unwrap();
        assert!(largest_difference(&drawn, &resvg_drawn(&tree)) <= 2);
        // A level stroked line cannot be drawn alone: the group is drawn whole, line and all.
        let tree =
            svg(r##"<line x1="0" y1="70" x2="300" y2="70" stroke="#00ff00" stroke-width="4"/>"##);
        let drawn = rasterize(&tree, 1.0, u64::MAX, None).unwrap();
        assert_eq!(
            drawn.pixel(200, 65).unwrap().green(),
            255,
            "the line is drawn"
        );
    }

    #[test]
    fn text_that_is_not_plain_is_drawn_by_resvg() {
        for attributes in [
            r##"x="10" y="55" font-size="40" fill="#ffffff" stroke="#ff0000" stroke-width="2""##,
            r##"x="10" y="55" font-size="40" fill="#ffffff" text-decoration="underline""##,
            r##"x="10" y="55" font-size="40" fill="#ffffff" rotate="10""##,
            r##"x="10" y="55" font-size="40" fill="#ffffff" text-rendering="optimizeSpeed""##,
        ] {
            let tree = text(attributes, "Hamburg");
            let usvg::Node::Text(node) = &tree.root().children()[0] else {
                panic!("a text node")
            };
            assert!(
                place(node, tree.fontdb(), Transform::default()).is_none(),
                "{attributes}"
            );
            let drawn = rasterize(&tree, 1.0, u64::MAX, None).unwrap();
            let ink = |p: &Pixmap| p.pixels().iter().map(|c| u64::from(c.alpha())).sum::<u64>();
            let (a, b) = (ink(&drawn), ink(&resvg_drawn(&tree)));
            assert!(
                b > 0 && a.abs_diff(b) * 1000 < b,
                "{attributes}: ink {a} against resvg's {b}"
            );
        }
    }

    #[test]
    fn a_glyph_too_large_for_a_mask_is_drawn_by_resvg() {
        let tree = text(r##"x="0" y="2910" font-size="4000" fill="#000""##, "W");
        let usvg::Node::Text(node) = &tree.root().children()[0] else {
            panic!("a text node")
        };
        assert!(place(node, tree.fontdb(), Transform::default()).is_none());
        let drawn = rasterize(&tree, 1.0, u64::MAX, None).unwrap();
        assert!(
            drawn.pixels().iter().any(|p| p.alpha() > 0),
            "resvg drew it"
        );
    }

    #[test]
    fn kept_masks_stay_within_their_budget() {
        // A 300 px "W" is about 100 KB: 250 sizes are three times the budget.
        for size in 150..400 {
            let tree = text(
                &format!(r##"x="0" y="70" font-size="{size}" fill="#000""##),
                "W",
            );
            rasterize(&tree, 1.0, u64::MAX, None).unwrap();
            let kept = masks().stats().bytes;
            assert!(kept <= MASKS_BUDGET, "{kept} bytes kept");
        }
        let stats = masks().stats();
        assert!(stats.entries < 250, "older masks were let go");
        assert!(stats.evictions > 0, "evictions are counted");
    }
}
