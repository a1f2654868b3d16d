//! Backgrounds found, not declared: a template's leading shapes, once seen twice, are drawn
//! once and copied under the rest, and no file changes for it.

use vellum::{Engine, Format};

use crate::support;

/// Every template at every size, filled with its examples and `title`-like text changed.
fn cards(engine: &Engine, text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let set = engine.templates();
    let mut cards = Vec::new();
    for template in set.iter() {
        let manifest = &template.manifest;
        for size in manifest.sizes.keys() {
            let mut pairs: Vec<(String, String)> = manifest
                .params
                .iter()
                .filter(|(name, _)| !template.is_image_param(name))
                .filter_map(|(name, spec)| {
                    let value = match spec.kind {
                        vellum::value::ParamKind::Text { .. } if spec.required => text.to_string(),
                        _ => spec.example.clone()?,
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
    // post (3 sizes), product and certificate lead with shapes (5 cards at scale 1, 3 at
    // scale 2) and card-a declares its background (drawn once at scale 2); travel's design
    // starts with its bound canvas.
    assert!(
        drawn_over.len() >= 9,
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
