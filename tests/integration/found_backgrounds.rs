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

fn render(engine: &Engine, name: &str, format: Format, pairs: &[(String, String)]) -> Vec<u8> {
    let job = engine.prepare_pairs(name, format, pairs.to_vec()).unwrap();
    engine.render(&job).unwrap().bytes.to_vec()
}

#[test]
fn a_found_background_changes_no_file() {
    let warmed = support::bundled_engine();
    let fresh = support::bundled_engine();
    let formats = [Format::Png, Format::Jpeg, Format::Webp];
    // Two other cards with each template's leading shapes: the second draws them once.
    for warm_up in ["Warm-up one", "Warm-up two"] {
        for (name, pairs) in cards(&warmed, warm_up) {
            render(&warmed, &name, Format::Png, &pairs);
        }
    }
    let before = warmed.found_backgrounds().hits;
    for (name, pairs) in cards(&warmed, "The card itself") {
        for format in formats {
            let over_found = render(&warmed, &name, format, &pairs);
            let in_one_pass = render(&fresh, &name, format, &pairs);
            assert!(
                over_found == in_one_pass,
                "{name} {pairs:?} as {format:?}: the file differs over a found background"
            );
        }
    }
    let used = warmed.found_backgrounds().hits - before;
    // post (3 sizes), product and certificate lead with shapes; card-a declares its
    // background and travel's design starts with its bound canvas.
    assert!(used >= 5 * 3, "only {used} renders used a found background");
}
