//! Backgrounds found, not declared: a template's leading shapes, once seen twice, are drawn
//! once and copied under the rest, and no file changes for it.

use vellum::{Engine, EngineConfig, Format};

use crate::support;

/// Every template at every size, filled with its examples and `title`-like text changed.
fn cards(engine: &Engine, text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let set = engine.templates();
    let mut cards = Vec::new();
    for template in set.iter() {
        let manifest = &template.manifest;
        // The required text parameters change, or else the first text parameter (travel's
        // kicker, as its title keeps its example).
        let is_text = |spec: &vellum::manifest::ParamSpec| {
            matches!(spec.kind, vellum::value::ParamKind::Text { .. })
        };
        let required = manifest.params.values().any(|s| is_text(s) && s.required);
        let first_text = manifest
            .params
            .iter()
            .find(|(_, s)| is_text(s))
            .map(|(n, _)| n);
        for size in manifest.sizes.keys() {
            let mut pairs: Vec<(String, String)> = manifest
                .params
                .iter()
                .filter(|(name, _)| !template.is_image_param(name))
                .filter_map(|(name, spec)| {
                    let changes = if required {
                        is_text(spec) && spec.required
                    } else {
                        Some(name) == first_text
                    };
                    let value = match changes {
                        true => text.to_string(),
                        false => spec.example.clone()?,
                    };
                    Some((name.clone(), value))
                })
                .collect();
            pairs.push(("size".into(), size.clone()));
            cards.push((template.name.clone(), pairs));
        }
    }
    cards
}

/// `cards` at `scale`.
fn at(
    cards: Vec<(String, Vec<(String, String)>)>,
    scale: &str,
) -> Vec<(String, Vec<(String, String)>)> {
    cards
        .into_iter()
        .map(|(name, mut pairs)| {
            pairs.push(("scale".into(), scale.to_string()));
            (name, pairs)
        })
        .collect()
}

fn render(engine: &Engine, name: &str, format: Format, pairs: &[(String, String)]) -> Vec<u8> {
    let job = engine.prepare_pairs(name, format, pairs.to_vec()).unwrap();
    engine.render(&job).unwrap().bytes.to_vec()
}

#[test]
fn a_found_background_changes_no_file() {
    let fresh = support::bundled_engine();
    // Every format and size at scale 1; PNG at scale 2 in each template's default size,
    // where its own background is also drawn once (at scale 1 it is drawn at load).
    let scales = [
        ("1", &[Format::Png, Format::Jpeg, Format::Webp][..]),
        ("2", &[Format::Png]),
    ];
    let set = fresh.templates();
    let in_default_size = |name: &str, pairs: &[(String, String)]| {
        let size = &set.get(name).unwrap().manifest.default_size;
        pairs.contains(&("size".to_string(), size.clone()))
    };
    let mut drawn_over = Vec::new();
    for (scale, formats) in scales {
        // A new engine for each scale, and at scale 2 for each card: a full cache draws only
        // backgrounds seen in more renders than those they would push out, and three drawn
        // at scale 2 fill it.
        let mut warmed = support::bundled_engine();
        let warm_ups = [
            cards(&warmed, "First warm-up"),
            cards(&warmed, "Second warm-up"),
        ];
        let cards = at(cards(&warmed, "The card itself"), scale);
        for (i, (name, pairs)) in cards.into_iter().enumerate() {
            if scale != "1" && !in_default_size(&name, &pairs) {
                continue;
            }
            if scale != "1" {
                warmed = support::bundled_engine();
            }
            // Two other cards (other text, starting with other letters) with the template's
            // leading elements: the second draws those they share.
            for warm_up in &warm_ups {
                let (_, other) = &at(vec![warm_up[i].clone()], scale)[0];
                render(&warmed, &name, Format::Png, other);
            }
            let before = warmed.found_backgrounds().hits;
            for &format in formats {
                let over_found = render(&warmed, &name, format, &pairs);
                let in_one_pass = render(&fresh, &name, format, &pairs);
                assert!(
                    over_found == in_one_pass,
                    "{name} {pairs:?} as {format:?}: the file differs over a found background"
                );
            }
            if warmed.found_backgrounds().hits > before {
                drawn_over.push(format!("{name} {pairs:?}"));
            }
        }
    }
    // post (3 sizes), product and certificate lead with shapes, travel's design draws its
    // photo and frame after its title (6 cards at scale 1, 4 at scale 2), and card-a
    // declares its background (drawn once at scale 2).
    assert!(
        drawn_over.len() >= 11,
        "only these used a found background: {drawn_over:#?}"
    );
}

#[test]
fn what_encoders_keep_with_a_found_background_counts_against_its_budget() {
    let engine = support::bundled_engine();
    let card = |title: &str| {
        let pairs = [("title", title), ("author", "Ada Lovelace")];
        pairs.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
    };
    for title in ["First card", "Second card"] {
        render(&engine, "post", Format::Png, &card(title));
    }
    let drawn = engine.found_backgrounds();
    assert_eq!(drawn.entries, 1, "post's leading shapes are drawn once");
    let mut held = vec![("png", drawn.bytes)];
    for (format, name) in [(Format::Webp, "webp"), (Format::Jpeg, "jpeg")] {
        render(&engine, "post", format, &card(&format!("A {name} card")));
        held.push((name, engine.found_backgrounds().bytes));
    }
    // Its WebP bands (every macroblock's edges, modes and levels) and JPEG pieces.
    assert!(held[1].1 > held[0].1 + 256 * 1024, "{held:?}");
    assert!(held[2].1 > held[1].1 + 8 * 1024, "{held:?}");
}

/// A title over a rule, with a dot after both: the rule and the dot repeat from card to card
/// but come after the title, which a descender takes across the rule.
const RULED_TOML: &str = r##"
width = 600
height = 200
[params.title]
type = "text"
required = true
max_chars = 40
example = "Ahead"
"##;

const RULED_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="200">
  <rect width="600" height="200" fill="#0f172a"/>
  <text x="20" y="100" font-family="Inter" font-size="48" fill="#f8fafc">{{ title }}</text>
  <rect x="20" y="104" width="560" height="3" fill="#38bdf8"/>
  <circle cx="560" cy="160" r="20" fill="#f97316"/>
</svg>
"##;

fn ruled_engine() -> Engine {
    let dir = support::scratch_dir("found-ruled");
    std::fs::write(dir.join("ruled.toml"), RULED_TOML).unwrap();
    std::fs::write(dir.join("ruled.svg"), RULED_SVG).unwrap();
    let mut config = EngineConfig::bundled(&support::root());
    config.templates_dir = dir;
    Engine::new(config).expect("the test template loads")
}

#[test]
fn elements_after_the_title_are_found_until_a_title_crosses_them() {
    let warmed = ruled_engine();
    let card = |title: &str| vec![("title".to_string(), title.to_string())];
    let same_as_one_pass = |title: &str| {
        // An engine that has seen no other card draws this one in one pass.
        let fresh = ruled_engine();
        for format in [Format::Png, Format::Jpeg, Format::Webp] {
            let over_found = render(&warmed, "ruled", format, &card(title));
            let in_one_pass = render(&fresh, "ruled", format, &card(title));
            assert!(
                over_found == in_one_pass,
                "{title:?} as {format:?}: the file differs over a found background"
            );
        }
    };
    // Titles without descenders stay clear of the rule: it and the dot are found with the
    // canvas, from the second card on.
    for title in ["A", "Ahead", "HELLO WORLD"] {
        same_as_one_pass(title);
    }
    let stats = warmed.found_backgrounds();
    assert_eq!((stats.entries, stats.hits), (1, 5), "{stats:?}");
    // A descender on the rule: that card's PNG finds the background but is drawn in one
    // pass, and the background is dropped for one of the canvas alone (the rule and dot
    // drawn with each title), drawn for the card's JPEG and copied for its WebP.
    same_as_one_pass("Jumping quickly");
    let stats = warmed.found_backgrounds();
    assert_eq!(
        (stats.entries, stats.hits, stats.misses),
        (1, 7, 2),
        "{stats:?}"
    );
    for title in ["Ahead again", "Typography", "B"] {
        same_as_one_pass(title);
    }
    let stats = warmed.found_backgrounds();
    assert_eq!((stats.entries, stats.hits), (1, 16), "{stats:?}");
}
