//! Hard titles through the `post` template: every script, emoji sequences, long words and
//! URLs stay inside the title box and never draw a missing-glyph box.

use vellum::Format;

use crate::support::{self, Pixels, decode_png};

/// The title box the `post` template declares (x 80, top 136, 1040 wide, three lines of
/// 64 px at 1.15), widened by a few pixels for side bearings, accents and descenders.
const TITLE_BOX: (u32, u32, u32, u32) = (74, 128, 1126, 376);

const HARD_TITLES: [&str; 33] = [
    "How we rendered a million social cards without a browser, and what it cost us in the end",
    "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherungsanstalt",
    "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz und Grundstücksverkehrsgenehmigungszuständigkeitsübertragungsverordnung",
    "Ship it 🚀 and celebrate 🎉🎉🎉",
    "Remote work 👩‍💻👨‍💻🧑‍💻 across every timezone",
    "Thumbs up 👍🏻👍🏼👍🏽👍🏾👍🏿 for diverse skin tones",
    "Family 👨‍👩‍👧‍👦 and flags 🇯🇵 🇩🇪 🇧🇷 🇺🇦 🏳️‍🌈",
    "مرحبا بالعالم: كيف نصنع بطاقات اجتماعية بسرعة",
    "النص العربي الطويل جدا الذي يجب أن يلتف على عدة أسطر داخل البطاقة دون أن يخرج عن الإطار المحدد له",
    "שלום עולם: איך אנחנו מייצרים כרטיסים חברתיים",
    "नमस्ते दुनिया: हम सोशल कार्ड कैसे बनाते हैं",
    "我们如何在不使用浏览器的情况下渲染一百万张社交卡片",
    "日本語のタイトルはスペースなしで文字の間で折り返す必要があります。これはとても長いタイトルです。",
    "한국어 제목도 올바르게 표시되어야 합니다: 소셜 카드를 만드는 방법",
    "สวัสดีชาวโลก วิธีสร้างการ์ดโซเชียลนับล้านใบโดยไม่ต้องใช้เบราว์เซอร์",
    "Mixed: English, 日本語, العربية, עברית and हिन्दी in one title",
    "Version 2.0 — مرحبا 123 — שלום 456 — done",
    "https://example.com/blog/2026/11/how-we-render-a-million-social-cards?utm_source=twitter",
    "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongword",
    "C++ & Rust: <templates>, \"quotes\" and 'apostrophes' — all escaped",
    "Ünïcödé àccénts: Ærøskøbing, Łódź, Zürich, São Paulo, Kraków",
    "Ελληνικά και Кириллица: Привет, мир! Γειά σου κόσμε!",
    "Emoji at the end of a long line that wraps right before it 🦀",
    "🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀",
    "Numbers 1234567890 and symbols € £ ¥ © ® ™ ° ± × ÷",
    "Tabs\tand\tspaces    collapse   properly",
    "   Leading and trailing spaces   ",
    "A",
    "ALL CAPS TITLES ARE WIDER THAN LOWERCASE ONES AND MUST STILL FIT IN THREE LINES AT MOST",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
    "中文English混排テキスト한국어",
    "Line one\nLine two\nLine three\nLine four is one too many",
    "🇺🇳🇪🇺🇬🇧🇫🇷🇮🇹🇪🇸🇵🇹🇳🇱🇧🇪🇸🇪🇳🇴🇫🇮🇩🇰🇮🇸🇵🇱🇨🇿🇸🇰🇭🇺🇷🇴🇧🇬🇬🇷🇹🇷",
];

fn render(engine: &vellum::Engine, format: Format, title: &str) -> Vec<u8> {
    let pairs = vec![("title".to_string(), title.to_string())];
    let job = engine
        .prepare_pairs("post", format, pairs)
        .expect("valid title");
    engine.render(&job).expect("renders").bytes.to_vec()
}

fn outside_box_differences(card: &Pixels, blank: &Pixels) -> Vec<(u32, u32)> {
    let (x0, y0, x1, y1) = TITLE_BOX;
    let mut off = Vec::new();
    for y in 0..card.height {
        for x in 0..card.width {
            let inside = (x0..x1).contains(&x) && (y0..y1).contains(&y);
            if !inside && card.at(x, y) != blank.at(x, y) {
                off.push((x, y));
            }
        }
    }
    off
}

/// Glyphs that laid out as glyph 0 (.notdef): a missing-glyph box on the card.
fn missing_glyphs(engine: &vellum::Engine, svg: &str) -> Vec<String> {
    let tree = usvg::Tree::from_str(svg, engine.usvg_options()).expect("valid svg");
    vellum::raster::missing_glyphs(&tree)
}

#[test]
fn hard_titles_stay_in_the_title_box_with_no_missing_glyphs() {
    let engine = support::bundled_engine();
    let blank = decode_png(&render(&engine, Format::Png, " "));
    let mut failures = Vec::new();
    for title in HARD_TITLES {
        let card = decode_png(&render(&engine, Format::Png, title));
        let off = outside_box_differences(&card, &blank);
        if !off.is_empty() {
            let path = support::root()
                .join("target/golden")
                .join(format!("hard-title-{}.png", failures.len()));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, render(&engine, Format::Png, title)).unwrap();
            failures.push(format!(
                "{title:?}: {} pixels drawn outside the title box, first at {:?}; see {}",
                off.len(),
                off[0],
                path.display()
            ));
        }
        let svg = String::from_utf8(render(&engine, Format::Svg, title)).unwrap();
        let missing = missing_glyphs(&engine, &svg);
        if !missing.is_empty() {
            failures.push(format!("{title:?}: missing glyphs for {missing:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_missing_glyph_check_sees_a_script_no_bundled_font_covers() {
    // Tamil has no bundled font: the check must notice, or it proves nothing above.
    let engine = support::bundled_engine();
    let svg = String::from_utf8(render(&engine, Format::Svg, "தமிழ்")).unwrap();
    assert!(!missing_glyphs(&engine, &svg).is_empty());
}

#[test]
fn the_box_check_sees_text_outside_the_box() {
    let engine = support::bundled_engine();
    let blank = decode_png(&render(&engine, Format::Png, " "));
    let pairs = vec![
        ("title".to_string(), " ".to_string()),
        (
            "author".to_string(),
            "Drawn below the title box".to_string(),
        ),
    ];
    let job = engine.prepare_pairs("post", Format::Png, pairs).unwrap();
    let card = decode_png(&engine.render(&job).unwrap().bytes);
    assert!(!outside_box_differences(&card, &blank).is_empty());
}

#[test]
fn emoji_are_drawn_in_colour() {
    let engine = support::bundled_engine();
    let saturated = |title: &str| {
        let card = decode_png(&render(&engine, Format::Png, title));
        let (x0, y0, x1, y1) = TITLE_BOX;
        let mut count = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let [r, g, b, _] = card.at(x, y);
                if r.max(g).max(b) - r.min(g).min(b) > 80 {
                    count += 1;
                }
            }
        }
        count
    };
    let plain = saturated("Plain words only");
    let emoji = saturated("🚀🍓🌈🔥🍀");
    assert!(
        emoji > plain + 5_000,
        "emoji {emoji} vs plain {plain} saturated pixels"
    );
}
