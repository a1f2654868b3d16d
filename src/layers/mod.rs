//! Layer bindings: params bound to elements of the SVG by `id` (a manifest's `layer = "..."`),
//! turned into Tera when the template loads, so that a plain export from a design tool is a
//! template without anyone writing Tera.
//!
//! | param | the bound element | becomes |
//! |---|---|---|
//! | text | a `<text>` (or a group holding one) | a `text_box` in the design's font, size, weight, fill, spacing and anchor, fitted to its box |
//! | color | a shape, or a group | that fill, or the fill of the group and of every shape in it that sets its own |
//! | image | an `<image>`, a shape filled with an image pattern, or a plain shape | that picture (the design's own when the param is empty); over a plain shape, clipped to it |
//! | bool | anything | shown or not |
//!
//! With `tera = false` in the manifest the SVG is a plain export: everything in it is
//! literal (a `{{` in the design stays text). Positions come from the XML parser on the
//! source (its Tera blanked out when it has any), so edits land exactly on the bound
//! elements and nothing else changes.

mod edit;
pub mod import;
mod paint;
mod style;
mod text;

use crate::manifest::{Layer, Manifest};
use crate::value::ParamKind;
use edit::{Edit, apply, literal};
use paint::{clipped_image, fill_edit, fill_targets, image_element};
use text::{text_box_call, text_element};

pub use edit::blank_tera;

/// The Tera source for `source` under `manifest`: its layer bindings applied, and with
/// `tera = false` everything else made literal. The error names the param and the layer.
pub fn bind(source: &str, manifest: &Manifest) -> Result<String, String> {
    let layers: Vec<(&str, &ParamKind, &Layer)> = manifest
        .params
        .iter()
        .filter_map(|(name, spec)| spec.layer.as_ref().map(|l| (name.as_str(), &spec.kind, l)))
        .collect();
    if layers.is_empty() && manifest.tera {
        return Ok(source.to_string());
    }
    let xml = match manifest.tera {
        true => blank_tera(source),
        false => source.to_string(),
    };
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&xml, options).map_err(|e| {
        let pos = e.pos();
        format!("line {}, column {}: {e}", pos.row, pos.col)
    })?;
    let find = |param: &str, layer: &Layer| {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(layer.id.as_str()))
            .ok_or_else(|| missing_layer(&doc, param, &layer.id))
    };
    let canvas = (f64::from(manifest.width), f64::from(manifest.height));
    // Text bound to a layer also takes the fill of a colour bound to the same layer.
    let mut text_fills = std::collections::HashMap::new();
    for (param, kind, layer) in &layers {
        if matches!(kind, ParamKind::Color) {
            text_fills.insert(layer.id.as_str(), *param);
        }
    }
    let mut edits = Vec::new();
    let mut text_ranges = Vec::new();
    for (param, kind, layer) in &layers {
        let node = find(param, layer)?;
        let fail = |m: String| format!("params.{param}: layer {:?}: {m}", layer.id);
        match kind {
            ParamKind::Text { .. } => {
                let text = text_element(node)
                    .ok_or_else(|| fail(format!("is a <{}>, not text", node.tag_name().name())))?;
                let fill = text_fills.get(layer.id.as_str()).copied();
                let call = text_box_call(text, param, layer, fill, canvas).map_err(fail)?;
                edits.push(Edit {
                    range: text.range(),
                    text: call,
                });
                text_ranges.push(text.range());
            }
            ParamKind::Color => {}
            ParamKind::Image { .. } => {
                let Some(image) = image_element(&doc, node) else {
                    // A plain shape: the image is drawn over it, clipped to its outline.
                    let edit = clipped_image(source, node, param).ok_or_else(|| {
                        fail(format!(
                            "is a <{}>; bind an <image>, a shape filled with an image \
                             pattern, or a rect, circle, ellipse, polygon or path",
                            node.tag_name().name()
                        ))
                    })?;
                    edits.push(edit);
                    continue;
                };
                let href = image
                    .attributes()
                    .find(|a| a.name() == "href")
                    .ok_or_else(|| fail("its image has no href".into()))?;
                let original = &source[href.range_value()];
                edits.push(Edit {
                    range: href.range_value(),
                    text: format!(
                        "{{% if {param} %}}{{{{ {param} }}}}{{% else %}}{}{{% endif %}}",
                        literal(original)
                    ),
                });
            }
            ParamKind::Bool => {
                let range = node.range();
                edits.push(Edit {
                    range: range.start..range.start,
                    text: format!("{{% if {param} %}}"),
                });
                edits.push(Edit {
                    range: range.end..range.end,
                    text: "{% endif %}".to_string(),
                });
            }
            ParamKind::Number { .. } | ParamKind::Enum { .. } => {}
        }
    }
    for (param, kind, layer) in &layers {
        if !matches!(kind, ParamKind::Color) {
            continue;
        }
        let node = find(param, layer)?;
        for target in fill_targets(node) {
            let inside_text = text_ranges
                .iter()
                .any(|r| r.start <= target.range().start && target.range().end <= r.end);
            if !inside_text {
                edits.push(fill_edit(source, target, param));
            }
        }
    }
    apply(source, edits, manifest.tera)
}

/// The error for a layer id the SVG does not have, with the ids it does have.
fn missing_layer(doc: &roxmltree::Document, param: &str, id: &str) -> String {
    let ids: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("id"))
        .collect();
    let hint = match crate::functions::closest(id, ids.iter().copied()) {
        Some(like) => format!(" (did you mean {like:?}?)"),
        None if ids.is_empty() => "; it has no ids at all".to_string(),
        None => format!(
            "; its ids: {}",
            ids.iter()
                .take(12)
                .map(|i| format!("{i:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("params.{param}: layer {id:?}: no element has this id{hint}")
}
