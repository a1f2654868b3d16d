//! Layer bindings: a design exported as plain SVG (no Tera in it) becomes a template through
//! its manifest alone. Each binding changes its own layer and nothing else, pixel for pixel,
//! and long text stays inside its box.

use std::path::Path;

use std::sync::Arc;

use vellum::fetch::{FetchLimits, ImageDirs, ImageSources};
use vellum::job::BlockingFetcher;
use vellum::{Engine, EngineConfig, Format};

use crate::support::{self, Pixels, decode_png};

/// A card written in the form Figma exports (not exported by Figma itself): ids with spaces,
/// brackets and dots, text with `xml:space="preserve"` and positioned tspans, a photo as an
/// image pattern fill, and a design whose own text holds `{{` (literal here). The tests also
/// run it through Inkscape's command line, which writes it in its own form.
const DESIGN: &str = r##"<svg width="800" height="400" viewBox="0 0 800 400" fill="none" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
<rect id="Card [bg]" width="800" height="400" fill="#0F172A"/>
<rect id="Photo" x="520" y="40" width="240" height="240" rx="12" fill="url(#pattern0)"/>
<text id="Title 1.0" fill="white" xml:space="preserve" style="white-space: pre" font-family="Inter" font-size="48" font-weight="bold" letter-spacing="0em"><tspan x="40" y="96.4545">Summer sale</tspan></text>
<text id="Note" fill="#94A3B8" xml:space="preserve" style="white-space: pre" font-family="Inter" font-size="20" letter-spacing="0em"><tspan x="40" y="352.273">Use code {{ SUMMER }} at checkout</tspan></text>
<circle id="Avatar" cx="700" cy="340" r="40" fill="#334155"/>
<g id="Badge">
<circle id="Badge disc" cx="110" cy="220" r="60" fill="#F97316"/>
<path id="Badge star" d="M110 180L122 208H152L128 226L137 256L110 238L83 256L92 226L68 208H98L110 180Z" fill="#FFF7ED"/>
</g>
<defs>
<pattern id="pattern0" patternContentUnits="objectBoundingBox" width="1" height="1">
<use xlink:href="#image0" transform="scale(0.5)"/>
</pattern>
<image id="image0" width="2" height="2" xlink:href="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGPQiDoBRAwQCgAhpgUpG+5kRAAAAABJRU5ErkJggg=="/>
</defs>
</svg>
"##;

const MANIFEST: &str = r##"
description = "A design exported as plain SVG"
width = 800
height = 400
tera = false

[params.title]
type = "text"
layer = "Title 1.0"
max_chars = 200
default = "Summer sale"

[params.background]
type = "color"
layer = "Card [bg]"
default = "#0f172a"

[params.badge]
type = "color"
layer = "Badge disc"
default = "#f97316"

[params.show_badge]
type = "bool"
layer = "Badge"
default = true

[params.photo]
type = "image"
layer = "Photo"

[params.avatar]
type = "image"
layer = "Avatar"
"##;

/// The title's box: from its x to the canvas edge, one line of the design's 48 px.
const TITLE_BOX: (u32, u32, u32, u32) = (40, 40, 800, 110);
const PHOTO_BOX: (u32, u32, u32, u32) = (520, 40, 760, 280);
const BADGE_BOX: (u32, u32, u32, u32) = (50, 160, 170, 280);
const AVATAR_BOX: (u32, u32, u32, u32) = (660, 300, 740, 380);

/// The design as a template in `dir`, with a red photo beside it to bind.
struct Promo {
    engine: Engine,
    images: BlockingFetcher,
}

impl Promo {
    fn new(dir: &Path) -> Promo {
        Promo::of(dir, DESIGN)
    }

    fn of(dir: &Path, design: &str) -> Promo {
        std::fs::write(dir.join("promo.svg"), design).unwrap();
        std::fs::write(dir.join("promo.toml"), MANIFEST).unwrap();
        let mut red = tiny_skia::Pixmap::new(16, 16).unwrap();
        red.fill(tiny_skia::Color::from_rgba8(220, 30, 30, 255));
        std::fs::write(dir.join("red.png"), red.encode_png().unwrap()).unwrap();
        let mut config = EngineConfig::bundled(&support::root());
        config.templates_dir = dir.to_path_buf();
        let limits = FetchLimits::default();
        let dirs = ImageDirs::new(&[dir.to_path_buf()], limits.max_bytes, limits.max_side).unwrap();
        Promo {
            engine: Engine::new(config).unwrap_or_else(|e| panic!("{e}")),
            images: BlockingFetcher::new(ImageSources {
                remote: None,
                local: Some(Arc::new(dirs)),
            }),
        }
    }

    fn render(&self, params: &[(&str, &str)]) -> Pixels {
        let pairs = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let job = self
            .engine
            .prepare_pairs("promo", Format::Png, pairs)
            .unwrap();
        let job = self.images.fetch_images(job).unwrap();
        decode_png(&self.engine.render(&job).unwrap().bytes)
    }
}

/// Pixels that differ between `a` and `b`, as (x, y).
fn changed(a: &Pixels, b: &Pixels) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for y in 0..a.height {
        for x in 0..a.width {
            if a.at(x, y) != b.at(x, y) {
                out.push((x, y));
            }
        }
    }
    out
}

fn inside((x, y): (u32, u32), (x0, y0, x1, y1): (u32, u32, u32, u32)) -> bool {
    (x0..x1).contains(&x) && (y0..y1).contains(&y)
}

/// `design` as Inkscape's command line exports it (plain SVG): Inkscape parses the design and
/// writes it out in its own form (attributes one per line, ids on every element).
fn inkscape_export(dir: &Path, design: &str) -> String {
    let input = dir.join("design-in.svg");
    let output = dir.join("design-inkscape.svg");
    std::fs::write(&input, design).unwrap();
    let run = std::process::Command::new("inkscape")
        .arg(&input)
        .args([
            "--export-plain-svg",
            "--export-type=svg",
            "--export-filename",
        ])
        .arg(&output)
        .output()
        .expect("inkscape runs (apt-get install inkscape)");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let exported = std::fs::read_to_string(&output).unwrap();
    assert_ne!(exported, design, "Inkscape wrote its own form");
    exported
}

#[test]
fn each_binding_changes_exactly_its_layer() {
    let figma = support::scratch_dir("layers-figma");
    let inkscape = support::scratch_dir("layers-inkscape");
    let exported = inkscape_export(&inkscape, DESIGN);
    for (dir, design) in [(figma, DESIGN.to_string()), (inkscape, exported)] {
        each_binding_changes_exactly_its_layer_in(&dir, &design);
    }
}

fn each_binding_changes_exactly_its_layer_in(dir: &Path, design: &str) {
    let promo = Promo::of(dir, design);
    let base = promo.render(&[]);
    // The design as exported: its own title, photo and badge.
    assert_eq!(base.at(700, 380), [15, 23, 42, 255], "the background");
    assert_eq!(base.at(110, 170 + 3), [249, 115, 22, 255], "the badge disc");

    for (params, layer, what) in [
        (vec![("title", "Winter sale")], TITLE_BOX, "title"),
        (
            vec![("badge", "rgb(34, 197, 94)")],
            BADGE_BOX,
            "badge colour",
        ),
        (vec![("show_badge", "false")], BADGE_BOX, "badge hidden"),
        (vec![("photo", "red.png")], PHOTO_BOX, "photo"),
        (vec![("avatar", "red.png")], AVATAR_BOX, "avatar"),
    ] {
        let card = promo.render(&params);
        let diff = changed(&base, &card);
        assert!(!diff.is_empty(), "{what}: something changed");
        let outside: Vec<_> = diff.iter().filter(|p| !inside(**p, layer)).collect();
        assert!(
            outside.is_empty(),
            "{what}: {} pixels outside the layer changed, first {:?}",
            outside.len(),
            outside.first()
        );
    }
    // A colour for the background recolours the background only: everything the design
    // draws over it keeps its pixels.
    let green = promo.render(&[("background", "hsl(142 71% 45%)")]);
    assert_eq!(
        green.at(700, 380),
        [33, 196, 93, 255],
        "hsl(142 71% 45%) is #21c45d"
    );
    assert_eq!(
        green.at(110, 173),
        base.at(110, 173),
        "the badge is untouched"
    );
    assert_eq!(
        green.at(640, 160),
        base.at(640, 160),
        "the photo is untouched"
    );
    let photo = promo.render(&[("photo", "red.png")]);
    assert_eq!(
        photo.at(640, 160),
        [220, 30, 30, 255],
        "the photo is the bound image"
    );
    // On a plain circle the image is clipped to the circle: its box's corner keeps the
    // background.
    let avatar = promo.render(&[("avatar", "red.png")]);
    assert_eq!(avatar.at(700, 340), [220, 30, 30, 255]);
    assert_eq!(avatar.at(663, 303), base.at(663, 303));
}

#[test]
fn long_text_stays_in_its_box_and_design_text_is_literal() {
    let dir = support::scratch_dir("layers-long");
    let promo = Promo::new(&dir);
    let base = promo.render(&[]);
    let long = "Everything must go: boots, coats, scarves and hats at half price ".repeat(3);
    let card = promo.render(&[("title", long.trim())]);
    let outside: Vec<_> = changed(&base, &card)
        .into_iter()
        .filter(|p| !inside(*p, TITLE_BOX))
        .collect();
    assert!(
        outside.is_empty(),
        "{} pixels outside the title box",
        outside.len()
    );
    // `{{ SUMMER }}` in the design is drawn as text, not read as Tera: the note has ink.
    let ink = (40..400)
        .flat_map(|x| (335..360).map(move |y| (x, y)))
        .filter(|&(x, y)| base.at(x, y) != [15, 23, 42, 255])
        .count();
    assert!(ink > 500, "the note is drawn ({ink} pixels)");
}

#[test]
fn import_binds_every_layer_and_reports_what_it_cannot_use() {
    let dir = support::scratch_dir("layers-import");
    let design = DESIGN.replace(
        "<g id=\"Badge\">",
        "<text fill=\"white\" font-family=\"Inter\" font-size=\"12\"><tspan x=\"600\" y=\"380\">no id</tspan></text>\n\
         <text id=\"Script\" fill=\"white\" font-family=\"Gogh\" font-size=\"12\"><tspan x=\"600\" y=\"360\">hand</tspan></text>\n\
         <path id=\"Outlined title\" d=\"M600 300H700V320H600Z\" stroke=\"white\"/>\n<g id=\"Badge\">",
    );
    std::fs::write(dir.join("design.svg"), &design).unwrap();
    let import = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vellum"))
            .current_dir(&dir)
            .args(["import", "design.svg", "--name", "promo"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = import(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = [
        "  color  \"Card [bg]\" -> card_bg = \"#0f172a\"",
        "  image  \"Photo\" -> photo",
        "  text   \"Title 1.0\" -> title_1_0 = \"Summer sale\"",
        "  text   \"Script\" -> script = \"hand\"",
        "  color  \"Badge disc\" -> badge_disc = \"#f97316\"",
        "wrote templates/promo.svg and templates/promo.toml",
        "cannot use:",
        "  text \"no id\" has no id: give it a name in the design tool to bind it",
        "  \"Script\": font \"Gogh\" is not loaded, so it draws in the default font (add the font with --add-fonts or to fonts/)",
        "  \"Outlined title\": a <path> with no fill of its own (outlined text is drawn this way; it cannot be edited as text)",
    ];
    support::assert_has_lines(&stdout, &lines);
    // The design itself is the template, unchanged; the manifest binds it and it renders.
    assert_eq!(
        std::fs::read_to_string(dir.join("templates/promo.svg")).unwrap(),
        design
    );
    let render = std::process::Command::new(env!("CARGO_BIN_EXE_vellum"))
        .current_dir(&dir)
        .args([
            "render",
            "--templates",
            "templates",
            "promo",
            "title_1_0=Imported",
            "-o",
            "card.png",
        ])
        .output()
        .unwrap();
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );
    assert_eq!(
        decode_png(&std::fs::read(dir.join("card.png")).unwrap()).width,
        800
    );
    // A second import does not overwrite without --force.
    let again = import(&[]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "vellum: templates/promo.svg exists (--force replaces it)\n"
    );
    assert!(import(&["--force"]).status.success());
}
