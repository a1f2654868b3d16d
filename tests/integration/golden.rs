//! Golden images: each bundled template, filled with its examples, compared pixel by pixel
//! with a reference in `tests/golden/`, within a small tolerance.
//!
//! On a mismatch the actual image and a diff (differing pixels in red) are written under
//! `target/golden/` and their paths printed. `VELLUM_BLESS=1 cargo test golden` writes
//! references that are missing; it never overwrites one, and is refused under CI.

use std::path::Path;

use crate::support::{self, Pixels, decode_png};

/// Largest per-channel difference that still counts as the same pixel.
const CHANNEL_TOLERANCE: u8 = 8;
/// Share of pixels allowed to differ beyond that (anti-aliasing drift across versions).
const PIXEL_BUDGET: f64 = 0.001;

fn check(name: &str, template: &str, params: &[(&str, &str)]) {
    let engine = support::bundled_engine();
    let pairs = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let job = engine
        .prepare_pairs(template, vellum::Format::Png, pairs)
        .expect("valid params");
    let png = engine.render(&job).expect("renders").bytes;

    let reference = support::root()
        .join("tests/golden")
        .join(format!("{name}.png"));
    let out_dir = support::root().join("target/golden");
    std::fs::create_dir_all(&out_dir).unwrap();
    let actual_path = out_dir.join(format!("{name}.actual.png"));

    if !reference.exists() {
        if std::env::var_os("VELLUM_BLESS").is_some() && std::env::var_os("CI").is_none() {
            std::fs::write(&reference, &png).unwrap();
            eprintln!("blessed {}", reference.display());
            return;
        }
        std::fs::write(&actual_path, &png).unwrap();
        panic!(
            "no reference {}; look at {} and bless it with VELLUM_BLESS=1 (not under CI)",
            reference.display(),
            actual_path.display()
        );
    }
    let expected = decode_png(&std::fs::read(&reference).unwrap());
    let actual = decode_png(&png);
    assert_eq!(
        (actual.width, actual.height),
        (expected.width, expected.height),
        "{name}: size changed"
    );
    let (differing, diff) = compare(&expected, &actual, CHANNEL_TOLERANCE);
    let allowed = (f64::from(actual.width * actual.height) * PIXEL_BUDGET) as usize;
    if differing > allowed {
        std::fs::write(&actual_path, &png).unwrap();
        let diff_path = out_dir.join(format!("{name}.diff.png"));
        write_png(&diff_path, &diff, actual.width, actual.height);
        panic!(
            "{name}: {differing} pixels differ (allowed {allowed}); actual: {}, diff: {}",
            actual_path.display(),
            diff_path.display()
        );
    }
}

/// Counts pixels with a channel differing by more than `tolerance`; the diff image shows them
/// in red over a faded copy of the expected image.
pub fn compare(expected: &Pixels, actual: &Pixels, tolerance: u8) -> (usize, Vec<u8>) {
    let mut differing = 0;
    let mut diff = Vec::with_capacity(expected.rgba.len());
    for (e, a) in expected
        .rgba
        .chunks_exact(4)
        .zip(actual.rgba.chunks_exact(4))
    {
        let off = e.iter().zip(a).any(|(x, y)| x.abs_diff(*y) > tolerance);
        if off {
            differing += 1;
            diff.extend_from_slice(&[255, 0, 0, 255]);
        } else {
            let faded = |c: u8| 192 + c / 4;
            diff.extend_from_slice(&[faded(e[0]), faded(e[1]), faded(e[2]), 255]);
        }
    }
    (differing, diff)
}

pub fn write_png(path: &Path, rgba: &[u8], width: u32, height: u32) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(rgba)
        .unwrap();
}

#[test]
fn golden_post_dark() {
    check(
        "post",
        "post",
        &[
            ("title", "How we render a million social cards"),
            ("subtitle", "Engineering blog · 12 min read"),
            ("author", "Ada Lovelace"),
        ],
    );
}

#[test]
fn golden_post_overlong_title_shrinks_then_ends_with_an_ellipsis() {
    check(
        "post-overlong",
        "post",
        &[
            (
                "title",
                "Supercalifragilistic expialidocious words keep coming: a title far too long for \
                 any card, written to show that text shrinks to its minimum size and then ends \
                 with an ellipsis",
            ),
            (
                "subtitle",
                "A subtitle too long for a single line of the card, so it ends with an ellipsis",
            ),
        ],
    );
}

#[test]
fn golden_post_emoji_title() {
    check(
        "post-emoji",
        "post",
        &[("title", "Ship it 🚀 👩‍💻 👍🏽 🇯🇵 and the family 👨‍👩‍👧‍👦 🏳️‍🌈")],
    );
}

#[test]
fn golden_post_arabic_title() {
    check(
        "post-arabic",
        "post",
        &[
            ("title", "كيف نصنع مليون بطاقة اجتماعية بدون متصفح"),
            ("author", "ليلى"),
        ],
    );
}

#[test]
fn golden_post_japanese_title() {
    check(
        "post-japanese",
        "post",
        &[
            (
                "title",
                "ブラウザを使わずに百万枚のソーシャルカードを描画する方法",
            ),
            ("subtitle", "エンジニアリングブログ · 12分"),
        ],
    );
}

#[test]
fn golden_post_light() {
    check(
        "post-light",
        "post",
        &[
            ("title", "Light themes, accent colours"),
            ("subtitle", "Design notes"),
            ("author", "Émile"),
            ("theme", "light"),
            ("color", "e11d48"),
        ],
    );
}

#[test]
fn golden_product() {
    check(
        "product",
        "product",
        &[
            ("name", "Trail Runner GTX"),
            ("brand", "Northwind Outdoor"),
            ("price", "129.9"),
            ("old_price", "159"),
            ("badge", "-20%"),
        ],
    );
}

#[test]
fn golden_certificate() {
    check(
        "certificate",
        "certificate",
        &[
            ("recipient", "Grace Hopper"),
            ("achievement", "Advanced Compiler Construction"),
            ("date", "24 November 2026"),
            ("verify_url", "https://academy.example.com/verify/7F3K-92QX"),
        ],
    );
}

#[test]
fn golden_card_a() {
    // The peer benchmark's card, as ../shared/peers/README.md specifies it.
    check(
        "card-a",
        "card-a",
        &[(
            "title",
            "How we rendered a million social cards without a browser, and what it cost us",
        )],
    );
}

#[test]
fn golden_post_hard_fields() {
    // Every text field at once: emoji sequences, Arabic beside Latin, Japanese.
    check(
        "post-fields",
        "post",
        &[
            ("title", "Shipping 🚀 مرحبا بالعالم with 日本語 titles"),
            ("subtitle", "Notes from 👩‍💻 Ada — ليلى و Ada — 東京"),
            ("author", "🇯🇵 Taro ليلى 👨‍👩‍👧‍👦"),
            ("site", "café ☕ 🏳️‍🌈 例え.jp"),
        ],
    );
}

#[test]
fn golden_product_hard_fields() {
    check(
        "product-fields",
        "product",
        &[
            ("name", "👟 حذاء الجري Trail Runner 日本製"),
            ("brand", "Ñandú 🇯🇵 ブランド"),
            ("price", "12999"),
            ("old_price", "15999"),
            ("currency", "JPY"),
            ("badge", "🔥 -20%"),
        ],
    );
}

#[test]
fn golden_certificate_hard_fields() {
    check(
        "certificate-fields",
        "certificate",
        &[
            ("recipient", "Ada 👩🏽‍💻 ليلى"),
            (
                "achievement",
                "Intro 👩🏽‍💻 🇯🇵 コンパイラ入門 and مقدمة في المترجمات",
            ),
            ("date", "٢٤ نوفمبر ٢٠٢٦"),
            ("issuer", "東京 Academy 🏫"),
        ],
    );
}

#[test]
fn golden_card_a_hard_fields() {
    check(
        "card-a-fields",
        "card-a",
        &[
            (
                "title",
                "How we render 🚀 a million cards: مرحبا and 日本語 too",
            ),
            ("subtitle", "vellum 👩‍👩‍👧‍👦 · ليلى · 東京"),
        ],
    );
}

#[test]
fn golden_travel() {
    // The design export as bound by its manifest, with the layered API's example canvas.
    check("travel", "travel", &[("canvas", "rgb(103,176,197)")]);
}

#[test]
fn golden_travel_hard_fields() {
    check(
        "travel-fields",
        "travel",
        &[
            ("kicker", "مرشد السفر 🇳🇿 旅行ガイド"),
            (
                "title",
                "Aotearoa: 👩‍👩‍👧‍👦 road trips, ฟยอร์ด and 北島の温泉 for everyone",
            ),
        ],
    );
}

#[test]
fn golden_post_square() {
    check(
        "post-square",
        "post",
        &[
            ("size", "square"),
            ("title", "How we render a million social cards"),
            ("subtitle", "Engineering blog · 12 min read"),
            ("author", "Ada Lovelace"),
        ],
    );
}

#[test]
fn golden_post_story() {
    check(
        "post-story",
        "post",
        &[
            ("size", "story"),
            ("title", "How we render a million social cards"),
            ("subtitle", "Engineering blog · 12 min read"),
            ("author", "Ada Lovelace"),
        ],
    );
}

#[test]
fn golden_post_square_hard_fields() {
    check(
        "post-square-fields",
        "post",
        &[
            ("size", "square"),
            ("theme", "light"),
            ("title", "Shipping 🚀 مرحبا بالعالم with 日本語 titles"),
            ("subtitle", "Notes from 👩‍💻 Ada — ليلى و Ada — 東京"),
            ("author", "🇯🇵 Taro ليلى 👨‍👩‍👧‍👦"),
            ("site", "café ☕ 🏳️‍🌈 例え.jp"),
        ],
    );
}

#[test]
fn golden_post_story_overlong_fields() {
    // The longest title and subtitle shrink, then end with an ellipsis, above the footer.
    check(
        "post-story-overlong",
        "post",
        &[
            ("size", "story"),
            ("theme", "light"),
            ("color", "e11d48"),
            (
                "title",
                "Supercalifragilistic expialidocious words keep coming: a title far too long for \
                 any card, written to show that text shrinks to its minimum size and then ends \
                 with an ellipsis, even on a story",
            ),
            (
                "subtitle",
                "A subtitle too long for the three lines a story gives it, so that it too ends \
                 with an ellipsis after it shrinks",
            ),
            ("author", "Émile 👨‍👩‍👧‍👦 ليلى"),
            ("site", "例え.jp"),
        ],
    );
}
