//! Every text field of every bundled template holds hostile text inside its own box, with
//! no missing glyph; and the text helpers behave as the template guide says: strict
//! arguments, whole initials, right-to-left paragraphs.

use vellum::text::{Direction, FitRequest};
use vellum::{Engine, EngineConfig, Format};

use crate::support::{self, Pixels, decode_png};

/// Strings every text field gets, beside a field-length string of wide glyphs.
const HOSTILE: [&str; 12] = [
    "Ada 👩‍👩‍👧‍👦 🚀 ليلى 日本",
    "Family 👨‍👩‍👧‍👦 and flags 🇯🇵 🇩🇪 🇧🇷 🇺🇦 🏳️‍🌈",
    "Thumbs 👍🏻👍🏼👍🏽👍🏾👍🏿 keycaps 1️⃣#️⃣",
    "مرحبا بالعالم: كيف نصنع بطاقات اجتماعية بسرعة",
    "Mixed: English, 日本語, العربية, עברית and हिन्दी",
    "Version 2.0 — مرحبا 123 — שלום 456 — done",
    "我们如何在不使用浏览器的情况下渲染一百万张社交卡片",
    "สวัสดีชาวโลก วิธีสร้างการ์ดโซเชียล",
    "https://example.com/blog/2026/11/how-we-render-a-million-social-cards?utm_source=x",
    "averyveryveryveryveryveryveryveryveryveryveryveryverylongword",
    "C++ & Rust: <templates>, \"quotes\" and 'apostrophes'",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
];

/// A rectangle of the canvas: x0, y0, x1, y1 (exclusive).
type Rect = (u32, u32, u32, u32);

/// Each bundled template's text fields, with the rectangles a field's text may change (its
/// box, and what it legitimately moves or derives: an initial, a price under a name), and
/// the longest value the manifest allows.
fn fields() -> Vec<(&'static str, &'static str, Vec<Rect>, usize)> {
    vec![
        // A taller title moves the subtitle down.
        (
            "post",
            "title",
            vec![(74, 128, 1126, 376), (74, 298, 1126, 470)],
            200,
        ),
        ("post", "subtitle", vec![(74, 298, 1126, 356)], 120),
        ("post", "author", vec![(78, 508, 666, 578)], 40),
        ("post", "site", vec![(674, 512, 1126, 566)], 30),
        (
            "product",
            "name",
            vec![(614, 190, 1166, 480), (180, 205, 400, 425)],
            80,
        ),
        ("product", "brand", vec![(614, 134, 1166, 182)], 30),
        ("product", "badge", vec![(422, 22, 562, 162)], 12),
        ("certificate", "recipient", vec![(76, 285, 1124, 397)], 80),
        (
            "certificate",
            "achievement",
            vec![(96, 492, 1104, 600)],
            120,
        ),
        ("certificate", "date", vec![(146, 668, 374, 712)], 30),
        ("certificate", "issuer", vec![(766, 668, 994, 712)], 40),
        ("card-a", "title", vec![(74, 150, 1126, 420)], 200),
        ("card-a", "subtitle", vec![(74, 512, 1126, 566)], 80),
        // Layer bindings: each text keeps to the box its manifest gives the layer.
        ("travel", "kicker", vec![(34, 34, 616, 74)], 30),
        ("travel", "title", vec![(34, 66, 616, 142)], 80),
    ]
}

/// The template's examples, with `field` set to `value`.
fn pairs(engine: &Engine, template: &str, field: &str, value: &str) -> Vec<(String, String)> {
    let set = engine.templates();
    let manifest = &set.get(template).expect("bundled").manifest;
    let mut pairs: Vec<(String, String)> = manifest
        .params
        .iter()
        .filter(|(name, _)| name.as_str() != field)
        .filter_map(|(name, spec)| Some((name.clone(), spec.example.clone()?)))
        .collect();
    pairs.push((field.to_string(), value.to_string()));
    pairs
}

fn render(engine: &Engine, template: &str, field: &str, value: &str, format: Format) -> Vec<u8> {
    let pairs = pairs(engine, template, field, value);
    let job = engine
        .prepare_pairs(template, format, pairs)
        .unwrap_or_else(|e| panic!("{template}.{field} = {value:?}: {e}"));
    engine.render(&job).unwrap().bytes.to_vec()
}

fn outside(card: &Pixels, blank: &Pixels, allowed: &[Rect]) -> Vec<(u32, u32)> {
    let inside = |x: u32, y: u32| {
        allowed
            .iter()
            .any(|&(x0, y0, x1, y1)| (x0..x1).contains(&x) && (y0..y1).contains(&y))
    };
    let mut off = Vec::new();
    for y in 0..card.height {
        for x in 0..card.width {
            if !inside(x, y) && card.at(x, y) != blank.at(x, y) {
                off.push((x, y));
            }
        }
    }
    off
}

/// The text of every glyph laid out as glyph 0 (.notdef) when `svg` is drawn as the engine
/// draws it.
fn missing_glyphs(engine: &Engine, svg: &str) -> Vec<String> {
    vellum::raster::missing_glyphs(&engine.parse_drawn(svg).unwrap())
}

#[test]
fn every_text_field_keeps_hostile_text_in_its_box_with_no_missing_glyph() {
    let engine = support::bundled_engine();
    let out = support::root().join("target/text-fields");
    std::fs::create_dir_all(&out).unwrap();
    let mut failures = Vec::new();
    for (template, field, allowed, max_chars) in fields() {
        let blank = decode_png(&render(&engine, template, field, " ", Format::Png));
        let wide = [
            "漢".repeat(max_chars),
            "👨‍👩‍👧‍👦".repeat(max_chars),
            "W".repeat(max_chars),
        ];
        let values = HOSTILE
            .iter()
            .map(|s| s.chars().take(max_chars).collect::<String>())
            .chain(wide);
        for (i, value) in values.enumerate() {
            let png = render(&engine, template, field, &value, Format::Png);
            let card = decode_png(&png);
            let off = outside(&card, &blank, &allowed);
            if !off.is_empty() {
                let path = out.join(format!("{template}-{field}-{i}.png"));
                std::fs::write(&path, &png).unwrap();
                failures.push(format!(
                    "{template}.{field} = {value:?}: {} pixels outside its box, first at {:?}; see {}",
                    off.len(),
                    off[0],
                    path.display()
                ));
            }
            let job = engine
                .prepare_pairs(
                    template,
                    Format::Png,
                    pairs(&engine, template, field, &value),
                )
                .unwrap();
            let missing = missing_glyphs(&engine, &engine.fill(&job).unwrap());
            if !missing.is_empty() {
                failures.push(format!(
                    "{template}.{field} = {value:?}: missing {missing:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_field_check_sees_text_outside_its_box() {
    // The oracle must fail when a field's box is drawn too small.
    let engine = support::bundled_engine();
    let blank = decode_png(&render(&engine, "post", "site", " ", Format::Png));
    let card = decode_png(&render(&engine, "post", "site", "example.org", Format::Png));
    assert!(!outside(&card, &blank, &[(1000, 512, 1126, 566)]).is_empty());
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><text y="30">தமிழ்</text></svg>"#;
    assert!(
        !missing_glyphs(&engine, svg).is_empty(),
        "Tamil has no bundled font"
    );
}

fn scratch_engine(name: &str, toml: &str, svg: &str) -> Result<Engine, String> {
    let dir = support::scratch_dir(name);
    std::fs::write(dir.join("t.toml"), toml).unwrap();
    std::fs::write(dir.join("t.svg"), svg).unwrap();
    let mut config = EngineConfig::bundled(&support::root());
    config.templates_dir = dir;
    Engine::new(config).map_err(|e| e.to_string())
}

#[test]
fn a_misspelled_helper_argument_is_a_load_error_with_its_line() {
    const TOML: &str =
        "width = 200\nheight = 100\n[params.title]\ntype = \"text\"\nexample = \"Hi\"\n";
    let cases = [
        (
            "{%- set t = fit_text(text=title, width=100, max_lines=1, font_size=20, font_wieght=800) %}",
            "line 2: fit_text: unknown argument font_wieght (did you mean font_weight?)",
        ),
        (
            "{%- set t = fit_text(text=title, width=100, max_line=3, font_size=20) %}",
            "line 2: fit_text: unknown argument max_line (did you mean max_lines?)",
        ),
        (
            "{{ text_box(text=title, x=0, y=0, width=100, max_lines=1, font_size=20, aling=\"middle\") }}",
            "line 2: text_box: unknown argument aling (did you mean align?)",
        ),
        (
            "{{ title | initials(cuont=3) }}",
            "line 2: initials: unknown argument cuont (did you mean count?)",
        ),
        (
            "{{ asset(file=\"x.png\") }}",
            "line 2: asset: unknown argument file; it takes name",
        ),
    ];
    for (i, (call, expected)) in cases.into_iter().enumerate() {
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"100\">\n{call}\n</svg>"
        );
        let err = scratch_engine(&format!("strict-{i}"), TOML, &svg).err();
        let err = err.unwrap_or_else(|| panic!("{call} loaded"));
        assert!(
            err.ends_with(&format!("t.svg: {expected}")),
            "{call}: got {err:?}"
        );
    }
}

#[test]
fn initials_keep_flags_and_emoji_sequences_whole() {
    let engine = support::bundled_engine();
    for (author, initial) in [("🇯🇵 Taro", "🇯🇵"), ("👩‍💻 Ada", "👩‍💻"), ("élan vital", "É")]
    {
        let svg = render(&engine, "post", "author", author, Format::Svg);
        let svg = String::from_utf8(svg).unwrap();
        assert!(
            svg.contains(&format!(">{initial}</tspan>")),
            "{author:?}: no whole initial {initial:?} in {svg}"
        );
    }
}

/// Columns of a horizontal band that hold ink (a dark pixel), leftmost and rightmost.
fn ink_columns(card: &Pixels, rows: std::ops::Range<u32>) -> Option<(u32, u32)> {
    let dark = |x: u32| rows.clone().any(|y| card.at(x, y)[0] < 128);
    let left = (0..card.width).find(|&x| dark(x))?;
    let right = (0..card.width).rev().find(|&x| dark(x))?;
    Some((left, right))
}

#[test]
fn a_right_to_left_paragraph_starts_on_the_right_with_its_first_line_on_top() {
    const TOML: &str =
        "width = 800\nheight = 260\n[params.text]\ntype = \"text\"\nexample = \"مرحبا\"\n";
    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="260">
<rect width="800" height="260" fill="#ffffff"/>
{{ text_box(text=text, x=100, y=20, width=480, max_lines=3, font_size=40, line_height=1.5, fill="#000000") }}
</svg>"##;
    let engine = scratch_engine("rtl-paragraph", TOML, SVG).unwrap();
    let paragraph = "النص العربي الطويل جدا الذي يجب أن يلتف على عدة أسطر داخل البطاقة";
    let draw = |text: &str| {
        let pairs = vec![("text".to_string(), text.to_string())];
        let job = engine.prepare_pairs("t", Format::Png, pairs).unwrap();
        decode_png(&engine.render(&job).unwrap().bytes)
    };
    let fitted = engine.text_measurer().fit(&FitRequest {
        text: paragraph,
        width: 480.0,
        max_lines: 3,
        max_height: None,
        font_size: 40.0,
        min_font_size: 40.0,
        family: "Inter",
        weight: 400,
        line_height: 1.5,
        letter_spacing: 0.0,
        balance: false,
        direction: Direction::Auto,
    });
    assert_eq!(fitted.lines.len(), 3, "{:?}", fitted.lines);
    let card = draw(paragraph);
    // Line i's band: from its baseline's ascent to its descent.
    let band = |i: u32| (20 + 40 + i * 60 - 38)..(20 + 40 + i * 60 + 14);
    for i in 0..3 {
        let (left, right) = ink_columns(&card, band(i)).expect("each line is drawn");
        assert!(
            (575..=582).contains(&right),
            "line {i} ends at {right}, not the right edge"
        );
        assert!(left >= 100, "line {i} starts at {left}, inside the box");
    }
    // The top line is the paragraph's first line: alone, it draws the same band.
    let first = draw(&fitted.lines[0]);
    let rows = band(0);
    let same = rows
        .clone()
        .flat_map(|y| (0..800).map(move |x| (x, y)))
        .filter(|&(x, y)| card.at(x, y)[0].abs_diff(first.at(x, y)[0]) <= 24)
        .count();
    let total = (rows.end - rows.start) as usize * 800;
    assert!(same * 1000 >= total * 998, "{same} of {total} pixels match");
}

/// The ink box of every text `tree` draws, in canvas pixels: left, top, right, bottom.
fn text_ink(tree: &usvg::Tree) -> Vec<(f32, f32, f32, f32)> {
    fn walk(group: &usvg::Group, out: &mut Vec<(f32, f32, f32, f32)>) {
        for node in group.children() {
            match node {
                usvg::Node::Group(g) => walk(g, out),
                usvg::Node::Text(text) => {
                    let ink = text.flattened().abs_bounding_box();
                    out.push((ink.left(), ink.top(), ink.right(), ink.bottom()));
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(tree.root(), &mut out);
    out
}

/// The ink boxes of text that leaves the job's canvas, with the canvas.
fn text_outside_canvas(engine: &Engine, job: &vellum::Job) -> Vec<(f32, f32, f32, f32)> {
    let (width, height) = job.params().canvas();
    let tree = engine.parse_drawn(&engine.fill(job).unwrap()).unwrap();
    // Half a pixel for anti-aliasing at the edge.
    let (w, h) = (width as f32 + 0.5, height as f32 + 0.5);
    text_ink(&tree)
        .into_iter()
        .filter(|&(l, t, r, b)| l < -0.5 || t < -0.5 || r > w || b > h)
        .collect()
}

#[test]
fn every_size_of_every_template_keeps_hard_text_inside_the_canvas() {
    let engine = support::bundled_engine();
    let out = support::root().join("target/text-sizes");
    std::fs::create_dir_all(&out).unwrap();
    let set = engine.templates();
    let mut failures = Vec::new();
    let mut checked = 0;
    for template in set.iter() {
        let manifest = &template.manifest;
        // The certificate's verify_url is drawn as a QR code, not as text (a value too long
        // for one is a 400: `a_value_too_long_for_a_qr_code_is_a_400`).
        let text_params: Vec<(&str, usize)> = manifest
            .params
            .iter()
            .filter(|(name, _)| {
                (template.name.as_str(), name.as_str()) != ("certificate", "verify_url")
            })
            .filter_map(|(name, spec)| match spec.kind {
                vellum::value::ParamKind::Text { max_chars } => Some((name.as_str(), max_chars)),
                _ => None,
            })
            .collect();
        // Every text field at once: each hostile string cut to the field's limit, then each
        // field filled to its limit with wide glyphs.
        let mut fillings: Vec<Box<dyn Fn(usize) -> String>> = HOSTILE
            .iter()
            .map(|s| Box::new(move |max: usize| s.chars().take(max).collect()) as Box<_>)
            .collect();
        for wide in ["漢", "👨‍👩‍👧‍👦", "W"] {
            fillings.push(Box::new(move |max: usize| wide.repeat(max)));
        }
        for size in manifest.sizes.keys() {
            for (i, filling) in fillings.iter().enumerate() {
                let mut pairs: Vec<(String, String)> = manifest
                    .params
                    .iter()
                    .filter(|(name, _)| !template.is_image_param(name))
                    .filter_map(|(name, spec)| Some((name.clone(), spec.example.clone()?)))
                    .filter(|(name, _)| !text_params.iter().any(|(t, _)| t == name))
                    .collect();
                for (name, max_chars) in &text_params {
                    pairs.push((name.to_string(), filling(*max_chars)));
                }
                pairs.push(("size".into(), size.clone()));
                let job = engine
                    .prepare_pairs(&template.name, Format::Png, pairs)
                    .unwrap_or_else(|e| panic!("{} at {size}, filling {i}: {e}", template.name));
                checked += 1;
                let outside = text_outside_canvas(&engine, &job);
                if !outside.is_empty() {
                    let path = out.join(format!("{}-{size}-{i}.png", template.name));
                    std::fs::write(&path, engine.render(&job).unwrap().bytes).unwrap();
                    failures.push(format!(
                        "{} at size {size}, filling {i}: text outside the canvas at {outside:?}; see {}",
                        template.name,
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(checked >= 7 * 15, "only {checked} cards checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_canvas_check_sees_text_past_the_edge() {
    // The oracle must fail for text that runs off a size's canvas.
    let toml = "default_size = \"wide\"\n[sizes.wide]\nwidth = 400\nheight = 100\n\
                [sizes.narrow]\nwidth = 100\nheight = 100\n";
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}"><text x="10" y="60" font-family="Inter" font-size="30">Far too wide</text></svg>"#;
    let engine = scratch_engine("canvas-check", toml, svg).unwrap();
    let job = |size: &str| {
        engine
            .prepare_pairs("t", Format::Png, vec![("size".into(), size.into())])
            .unwrap()
    };
    assert_eq!(text_outside_canvas(&engine, &job("wide")), vec![]);
    assert_eq!(text_outside_canvas(&engine, &job("narrow")).len(), 1);
}

#[test]
fn a_value_too_long_for_a_qr_code_is_a_400() {
    // Within verify_url's 300 characters, but 7,500 bytes: more than a QR code holds.
    let engine = support::bundled_engine();
    let pairs = pairs(&engine, "certificate", "verify_url", &"👨‍👩‍👧‍👦".repeat(300));
    let job = engine
        .prepare_pairs("certificate", Format::Png, pairs)
        .unwrap();
    let error = engine.render(&job).unwrap_err();
    assert_eq!(error.status(), hyper::StatusCode::BAD_REQUEST);
    assert_eq!(
        error.to_string(),
        "a value is too long for the card's QR code: at most 1000 bytes as UTF-8, got 7500"
    );
}
