//! Fonts users bring: WOFF and WOFF2 files draw as their OpenType originals, a variable font
//! takes `font-weight` on its `wght` axis (and is measured at it), and a file that does not
//! load stops the start with its name.

use std::path::{Path, PathBuf};

use vellum::{Engine, EngineConfig, Format};

use crate::support::{self, Pixels, decode_png};

const TOML: &str = r##"
width = 800
height = 120
[params.family]
type = "text"
example = "Vellum Test Web"
[params.weight]
type = "number"
min = 100
max = 900
default = 400
"##;

/// "Hello" right-aligned in a box from x = 50 to x = 750.
const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="120">
<rect width="800" height="120" fill="#ffffff"/>
{{ text_box(text="Hello, WWW fonts", x=50, y=20, width=700, max_lines=1, font_size=60, font_family=family, font_weight=weight, fill="#000000", align="end") }}
</svg>"##;

fn test_fonts() -> PathBuf {
    support::root().join("tests/fonts")
}

/// An engine over a fonts directory holding only `fonts` (from `tests/fonts/`).
fn engine(name: &str, fonts: &[&str]) -> Result<Engine, String> {
    let dir = support::scratch_dir(name);
    let (templates, font_dir) = (dir.join("templates"), dir.join("fonts"));
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&font_dir).unwrap();
    std::fs::write(templates.join("t.toml"), TOML).unwrap();
    std::fs::write(templates.join("t.svg"), SVG).unwrap();
    for font in fonts {
        let from = test_fonts().join(font);
        let to = font_dir.join(font);
        if from.exists() {
            std::fs::copy(from, to).unwrap();
        } else if font.ends_with(".woff2") {
            // A WOFF2 header over garbage.
            std::fs::write(to, b"wOF2 and then nothing a decoder can read").unwrap();
        } else {
            // Not a font at all, under a font's name.
            std::fs::write(to, b"not a font, whatever the name says").unwrap();
        }
    }
    let mut config = EngineConfig::bundled(&support::root());
    config.templates_dir = templates;
    config.font_dirs = vec![font_dir];
    Engine::new(config).map_err(|e| e.to_string())
}

fn draw(engine: &Engine, family: &str, weight: u16) -> Pixels {
    let pairs = vec![
        ("family".to_string(), family.to_string()),
        ("weight".to_string(), weight.to_string()),
    ];
    let job = engine.prepare_pairs("t", Format::Png, pairs).unwrap();
    decode_png(&engine.render(&job).unwrap().bytes)
}

fn ink(card: &Pixels) -> (usize, Option<u32>) {
    let mut count = 0;
    let mut right = None;
    for y in 0..card.height {
        for x in 0..card.width {
            if card.at(x, y)[0] < 128 {
                count += 1;
                right = Some(right.map_or(x, |r: u32| r.max(x)));
            }
        }
    }
    (count, right)
}

#[test]
fn woff_and_woff2_fonts_draw_as_their_opentype_original() {
    let original = draw(
        &engine("fonts-otf", &["vellum-test.otf"]).unwrap(),
        "Vellum Test Web",
        400,
    );
    let (count, right) = ink(&original);
    assert!(count > 2000, "the text is drawn ({count} dark pixels)");
    assert!(right.is_some_and(|r| (744..=751).contains(&r)), "{right:?}");
    for file in ["vellum-test.woff2", "vellum-test.woff"] {
        let web = draw(
            &engine(&format!("fonts-{file}"), &[file]).unwrap(),
            "Vellum Test Web",
            400,
        );
        assert_eq!(web.rgba, original.rgba, "{file} draws as the .otf does");
    }
}

#[test]
fn a_variable_font_takes_font_weight_and_is_measured_at_it() {
    let engine = engine("fonts-variable", &["vellum-test-variable.ttf"]).unwrap();
    let thin = draw(&engine, "Vellum Test VF", 200);
    let black = draw(&engine, "Vellum Test VF", 900);
    let (thin_ink, thin_right) = ink(&thin);
    let (black_ink, black_right) = ink(&black);
    assert!(
        black_ink * 10 > thin_ink * 18,
        "900 is drawn much bolder than 200: {black_ink} vs {thin_ink} dark pixels"
    );
    // Right-aligned at both weights: each is measured at the weight it is drawn at.
    for right in [thin_right, black_right] {
        assert!(right.is_some_and(|r| (744..=751).contains(&r)), "{right:?}");
    }
}

#[test]
fn a_font_file_that_does_not_load_stops_the_start_with_its_name() {
    for (file, reason) in [
        ("broken.ttf", "face 0 does not load"),
        ("broken.woff2", "WOFF2"),
    ] {
        let dir = Path::new("fonts");
        let Err(err) = engine(&format!("fonts-{file}"), &["vellum-test.otf", file]) else {
            panic!("{file} loaded");
        };
        assert!(
            err.contains(&format!("{}: {reason}", dir.join(file).display())),
            "{file}: {err}"
        );
    }
}

#[test]
fn add_fonts_brings_a_family_and_keeps_the_bundled_coverage() {
    let dir = support::scratch_dir("fonts-add");
    let (templates, mine) = (dir.join("templates"), dir.join("mine"));
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(templates.join("t.toml"), TOML).unwrap();
    std::fs::write(templates.join("t.svg"), SVG).unwrap();
    std::fs::copy(test_fonts().join("vellum-test.otf"), mine.join("brand.otf")).unwrap();
    let bundled = support::root().join("fonts");
    let bundled = bundled.to_str().unwrap();
    let bundled_templates = support::root().join("templates");
    // `vellum render` in `dir` with `flags`, then `args` (template, params, -o).
    let vellum = |flags: &[&str], args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vellum"))
            .current_dir(&dir)
            .arg("render")
            .args(flags)
            .args(args)
            .output()
            .unwrap()
    };
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    // The brand family has only a Regular: asked for at 900 it draws Regular. Without it the
    // family is unknown and the text falls back to Inter Black.
    let card = |flags: &[&str], out: &str| {
        let args = [
            "--templates",
            "templates",
            "t",
            "family=Vellum Test Web",
            "weight=900",
        ];
        let run = vellum(flags, &[&args[..], &["-o", out]].concat());
        assert!(run.status.success(), "{}", stderr(&run));
        ink(&decode_png(&std::fs::read(dir.join(out)).unwrap())).0
    };
    let added = card(&["--fonts", bundled, "--add-fonts", "mine"], "added.png");
    let unknown = card(&["--fonts", bundled], "unknown.png");
    assert!(
        unknown * 10 > added * 13,
        "the added family draws (Regular {added} vs Black {unknown} dark pixels)"
    );

    // Added fonts keep the bundled emoji; replacing the fonts loses them.
    let post = [
        "--templates",
        bundled_templates.to_str().unwrap(),
        "post",
        "title=Launch 🚀",
        "-o",
        "post.png",
    ];
    let kept = vellum(&["--fonts", bundled, "--add-fonts", "mine"], &post);
    assert!(kept.status.success(), "{}", stderr(&kept));
    assert!(
        !stderr(&kept).contains("missing-glyph"),
        "{}",
        stderr(&kept)
    );
    let replaced = vellum(&["--fonts", "mine"], &post);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    assert!(
        stderr(&replaced).contains("drew missing-glyph boxes"),
        "{}",
        stderr(&replaced)
    );
    let missing = vellum(&["--add-fonts", "nowhere"], &post);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        "vellum: --add-fonts nowhere: no such directory\n"
    );
}
