//! `vellum import`: what a design can offer as layers, and the manifest that binds them.
//!
//! Text with an id becomes a text param (its own words the default), a shape or group with
//! a flat fill a colour param (its colour the default), an `<image>` or an image pattern fill
//! an image param (empty keeps the design's picture). Anything else with an id is reported
//! with the reason it cannot be bound.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use roxmltree::{Document, Node};

use super::paint::image_element;
use super::style;
use crate::value::ParamKind;

/// One layer found in a design.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The element's id.
    pub id: String,
    /// The param it becomes.
    pub param: String,
    /// `text`, `color` or `image`.
    pub kind: &'static str,
    /// Its default: the design's own text or colour (none for images).
    pub default: Option<String>,
}

/// What a design offers: its size, its layers, and what could not be used (with the id).
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Canvas width and height in pixels.
    pub size: (u32, u32),
    /// Bindable layers, in document order.
    pub layers: Vec<Found>,
    /// Elements that cannot be bound, each with the reason.
    pub unusable: Vec<String>,
}

const SHAPES: &[&str] = &[
    "rect", "circle", "ellipse", "path", "polygon", "polyline", "line",
];

/// Reads the layers of `svg`; `has_family` says whether a font family is loaded.
pub fn inventory(svg: &str, has_family: impl Fn(&str) -> bool) -> Result<Inventory, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = Document::parse_with_options(svg, options).map_err(|e| {
        let pos = e.pos();
        format!("line {}, column {}: {e}", pos.row, pos.col)
    })?;
    let size = canvas_size(doc.root_element())?;
    let mut layers = Vec::new();
    let mut unusable = Vec::new();
    let mut taken = BTreeSet::new();
    for node in doc.descendants().filter(Node::is_element) {
        let in_definitions = node.ancestors().skip(1).any(|a| {
            matches!(
                a.tag_name().name(),
                "defs" | "clipPath" | "mask" | "pattern" | "symbol" | "marker"
            )
        });
        let Some(id) = node.attribute("id") else {
            if node.has_tag_name("text") && !in_definitions {
                let words = text_of(node);
                unusable.push(format!(
                    "text {words:?} has no id: give it a name in the design tool to bind it"
                ));
            }
            continue;
        };
        if in_definitions || node == doc.root_element() {
            continue;
        }
        let tag = node.tag_name().name();
        let found = if tag == "text" {
            if let Some(family) = style::inherited(node, "font-family") {
                let family = style::families(family);
                let first = family.split(',').next().unwrap_or("").trim().to_string();
                if !first.is_empty() && !has_family(&first) {
                    unusable.push(format!(
                        "{id:?}: font {first:?} is not loaded, so it draws in the default font \
                         (add the font with --add-fonts or to fonts/)"
                    ));
                }
            }
            Some(("text", Some(text_of(node))))
        } else if image_element(&doc, node).is_some() {
            Some(("image", None))
        } else if SHAPES.contains(&tag) || tag == "g" {
            match style::own(node, "fill") {
                Some(fill) if fill.starts_with("url(") => {
                    unusable.push(format!(
                        "{id:?}: its fill is a gradient or pattern; bind it by hand if a flat \
                         colour may replace it"
                    ));
                    None
                }
                Some(fill) if fill != "none" => match ParamKind::Color.check("fill", fill) {
                    Ok(value) => Some(("color", Some(value.canonical()))),
                    Err(_) => {
                        unusable.push(format!("{id:?}: fill {fill:?} is not a colour"));
                        None
                    }
                },
                _ if tag == "g" => None,
                _ => {
                    unusable.push(format!(
                        "{id:?}: a <{tag}> with no fill of its own (outlined text is drawn \
                         this way; it cannot be edited as text)"
                    ));
                    None
                }
            }
        } else {
            None
        };
        if let Some((kind, default)) = found {
            layers.push(Found {
                id: id.to_string(),
                param: param_name(id, &mut taken),
                kind,
                default,
            });
        }
    }
    Ok(Inventory {
        size,
        layers,
        unusable,
    })
}

impl Inventory {
    /// A manifest binding every layer, for a design described as `description`.
    pub fn manifest(&self, description: &str) -> String {
        let mut toml = String::new();
        let _ = writeln!(toml, "description = {}", toml_string(description));
        let _ = writeln!(toml, "width = {}\nheight = {}", self.size.0, self.size.1);
        let _ = writeln!(
            toml,
            "# A plain export: nothing in the SVG is Tera; each param below changes one layer."
        );
        toml.push_str("tera = false\n");
        for layer in &self.layers {
            let _ = write!(
                toml,
                "\n[params.{}]\ntype = \"{}\"\nlayer = {}\n",
                layer.param,
                layer.kind,
                toml_string(&layer.id)
            );
            if let Some(default) = &layer.default {
                if layer.kind == "text" {
                    let chars = default.chars().count();
                    let _ = writeln!(toml, "max_chars = {}", (chars * 2).max(40));
                }
                let _ = writeln!(toml, "default = {}", toml_string(default));
                let _ = writeln!(toml, "example = {}", toml_string(default));
            }
            let _ = writeln!(
                toml,
                "description = {}",
                toml_string(&format!("Layer {:?} of the design", layer.id))
            );
        }
        toml
    }
}

/// The canvas size from the root's `width` and `height` (pixels), else its `viewBox`.
fn canvas_size(root: Node) -> Result<(u32, u32), String> {
    let side = |name: &str| root.attribute(name).and_then(|v| style::length(v, 16.0));
    let view_box: Vec<f64> = root
        .attribute("viewBox")
        .unwrap_or("")
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|n| n.parse().ok())
        .collect();
    let (width, height) = match (side("width"), side("height"), view_box.as_slice()) {
        (Some(w), Some(h), _) => (w, h),
        (_, _, [_, _, w, h]) => (*w, *h),
        _ => return Err("the <svg> has neither width and height in pixels nor a viewBox".into()),
    };
    if !(width >= 1.0 && height >= 1.0) {
        return Err(format!("the canvas is {width}x{height}"));
    }
    Ok((width.round() as u32, height.round() as u32))
}

/// The words of a `<text>`, its lines joined by spaces.
fn text_of(node: Node) -> String {
    let words: Vec<&str> = node
        .descendants()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    words.join(" ")
}

/// A param name from a layer id (`Title 1.0` -> `title_1_0`), unique among `taken`.
fn param_name(id: &str, taken: &mut BTreeSet<String>) -> String {
    let mut name = String::new();
    for c in id.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('_') && !name.is_empty() {
            name.push('_');
        }
    }
    let mut name = name.trim_end_matches('_').to_string();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("layer_{name}");
    }
    if crate::manifest::is_reserved_name(&name) {
        name.push_str("_layer");
    }
    let mut unique = name.clone();
    let mut n = 2;
    while taken.contains(&unique) {
        unique = format!("{name}_{n}");
        n += 1;
    }
    taken.insert(unique.clone());
    unique
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_param_names() {
        let mut taken = BTreeSet::new();
        let names: Vec<String> = ["Title 1.0", "Card [bg]", "title-1-0", "2nd", "scale", "✨"]
            .iter()
            .map(|id| param_name(id, &mut taken))
            .collect();
        assert_eq!(
            names,
            [
                "title_1_0",
                "card_bg",
                "title_1_0_2",
                "layer_2nd",
                "scale_layer",
                "layer_"
            ]
        );
    }
}
