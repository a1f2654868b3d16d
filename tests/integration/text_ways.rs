//! Text is drawn right however a template writes it: `fit_text` runs, one `<tspan>` per
//! entry of `lines`, or a plain `{{ value }}`, at every `text-anchor`, give the same pixels
//! for strings that need several fonts (emoji sequences, flags, Arabic and CJK beside Latin).

use vellum::{Engine, EngineConfig, Format};

use crate::support::{self, Pixels, decode_png};

const TOML: &str = r##"
width = 1000
height = 300
[params.text]
type = "text"
required = true
example = "Ada 👩‍👩‍👧‍👦"
[params.way]
type = "enum"
values = ["runs", "lines", "plain"]
[params.anchor]
type = "enum"
values = ["start", "middle", "end"]
[params.shift]
type = "number"
min = 0
max = 1
default = 0
"##;

/// The same text three ways, anchored at x = 500; `shift` is the share of the line's width
/// the runs move left by to match `anchor` (0, 0.5 or 1).
const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="300">
<rect width="1000" height="300" fill="#ffffff"/>
{%- set f = fit_text(text=text, width=960, max_lines=1, font_size=40, font_weight=600) %}
{%- if way == "runs" %}
<text font-family="Inter" font-weight="600" font-size="40" fill="#111827">
  {%- for run in f.runs[0] %}<tspan x="{{ 500 - shift * f.widths[0] + run.x }}" y="150">{{ run.text }}</tspan>{% endfor -%}
</text>
{%- elif way == "lines" %}
<text text-anchor="{{ anchor }}" font-family="Inter" font-weight="600" font-size="40" fill="#111827">
  <tspan x="500" y="150">{{ f.lines[0] }}</tspan>
</text>
{%- else %}
<text x="500" y="150" text-anchor="{{ anchor }}" font-family="Inter" font-weight="600" font-size="40" fill="#111827">{{ text }}</text>
{%- endif %}
</svg>
"##;

const STRINGS: [&str; 10] = [
    "Ada 👩‍👩‍👧‍👦 🚀 ليلى 日本",
    "café ☕ 🏳️‍🌈",
    "Intro 👩🏽‍💻 🇯🇵",
    "Mixed: English, 日本語, العربية",
    "Version 2.0 — مرحبا 123 — שלום",
    "🔥 -20%",
    "Ñandú 🇯🇵 🇩🇪 🇧🇷",
    "नमस्ते दुनिया and hello",
    "สวัสดีชาวโลก 👋",
    "한국어 제목 and 中文 #1",
];

fn engine() -> Engine {
    let dir = support::scratch_dir("text-ways");
    std::fs::write(dir.join("ways.toml"), TOML).unwrap();
    std::fs::write(dir.join("ways.svg"), SVG).unwrap();
    let mut config = EngineConfig::bundled(&support::root());
    config.templates_dir = dir;
    Engine::new(config).expect("the test template loads")
}

fn render(engine: &Engine, text: &str, way: &str, anchor: &str) -> Vec<u8> {
    let shift = match anchor {
        "start" => "0",
        "middle" => "0.5",
        _ => "1",
    };
    let pairs = [
        ("text", text),
        ("way", way),
        ("anchor", anchor),
        ("shift", shift),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    let job = engine.prepare_pairs("ways", Format::Png, pairs).unwrap();
    engine.render(&job).unwrap().bytes.to_vec()
}

/// Pixels whose colour differs by more than anti-aliasing does.
fn differing(a: &Pixels, b: &Pixels) -> usize {
    (0..a.height)
        .flat_map(|y| (0..a.width).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (p, q) = (a.at(x, y), b.at(x, y));
            (0..3).any(|c| p[c].abs_diff(q[c]) > 96)
        })
        .count()
}

fn inked(card: &Pixels) -> usize {
    (0..card.height)
        .flat_map(|y| (0..card.width).map(move |x| (x, y)))
        .filter(|&(x, y)| card.at(x, y)[..3].iter().any(|&c| c < 200))
        .count()
}

#[test]
fn runs_lines_and_plain_text_draw_the_same_pixels_at_every_anchor() {
    let engine = engine();
    let out = support::root().join("target/text-ways");
    std::fs::create_dir_all(&out).unwrap();
    let mut failures = Vec::new();
    for (i, text) in STRINGS.iter().enumerate() {
        for anchor in ["start", "middle", "end"] {
            let runs_png = render(&engine, text, "runs", anchor);
            let runs = decode_png(&runs_png);
            assert!(inked(&runs) > 300, "{text:?}: the runs drew nothing");
            for way in ["lines", "plain"] {
                let png = render(&engine, text, way, anchor);
                let other = decode_png(&png);
                let off = differing(&runs, &other);
                // A few edge pixels where a glyph lands a fraction of a pixel apart.
                if off > 40 {
                    let stem = out.join(format!("{i}-{anchor}"));
                    std::fs::write(stem.with_extension("runs.png"), &runs_png).unwrap();
                    std::fs::write(stem.with_extension(format!("{way}.png")), &png).unwrap();
                    failures.push(format!(
                        "{text:?} {anchor}: {way} differs from runs in {off} pixels; see {}.*",
                        stem.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_comparison_sees_text_that_lands_elsewhere() {
    // The oracle must fail when plain text is not where the runs are.
    let engine = engine();
    let runs = decode_png(&render(&engine, STRINGS[0], "runs", "start"));
    let moved = decode_png(&render(&engine, STRINGS[0], "plain", "middle"));
    assert!(differing(&runs, &moved) > 1000);
}

/// `svg` drawn as the engine draws it: runs placed, then parsed and rasterised.
fn draw(engine: &Engine, svg: &str) -> tiny_skia::Pixmap {
    let tree = engine.parse_drawn(svg).unwrap();
    vellum::raster::rasterize(&tree, 1.0, u64::MAX, None).unwrap()
}

#[test]
fn letter_spacing_is_kept_when_text_is_placed_as_runs() {
    // Right-aligned, the Latin words end at the same place whether or not an emoji (which
    // makes the chunk runs) comes before them: the chunk's width counts the spacing.
    let engine = support::bundled_engine();
    let card = |text: &str| {
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="100"><rect width="800" height="100" fill="#fff"/><text x="700" y="60" font-size="40" letter-spacing="12" text-anchor="end">{text}</text></svg>"##
        )
    };
    let native = draw(&engine, &card("AB CD"));
    let placed = draw(&engine, &card("👋 AB CD"));
    assert!(
        vellum::text::svg::place_runs(&card("👋 AB CD"), engine.text_measurer()).is_some(),
        "the emoji makes the chunk runs"
    );
    let region = |p: &tiny_skia::Pixmap| -> Vec<u8> {
        (0..100)
            .flat_map(|y| (480..800).map(move |x| (x, y)))
            .map(|(x, y)| p.pixel(x, y).unwrap().red())
            .collect()
    };
    let (a, b) = (region(&native), region(&placed));
    let off = a
        .iter()
        .zip(&b)
        .filter(|(p, q)| p.abs_diff(**q) > 96)
        .count();
    assert!(off <= 20, "{off} pixels differ where the Latin words are");
    let ink = a.iter().filter(|&&p| p < 128).count();
    assert!(ink > 500, "the words were drawn ({ink} dark pixels)");
}
