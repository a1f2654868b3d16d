//! The layered API's params: a list of layer entries (`{"name": "title", "text": "Hi"}`) read
//! into the (param, value) pairs every other route uses.
//!
//! An entry's `name` is a layer id (or a param's own name); its property picks which param
//! bound to that layer it sets: `text` a text param, `imageUrl` an image, `backgroundColor`
//! or `color` a colour, `visible` a bool. One layer may carry several params (a colour and a
//! visibility), each reached by its own property.

use crate::error::RequestError;
use crate::template::Template;
use crate::value::ParamKind;

/// The properties a layer entry may set, and the kind of param each sets.
const PROPERTIES: &[(&str, &str)] = &[
    ("text", "text"),
    ("imageUrl", "image"),
    ("backgroundColor", "color"),
    ("color", "color"),
    ("visible", "bool"),
];

/// The (param, value) pairs a list of layer entries sets on `template`; an entry that names
/// no layer, or a property its layer does not take, is a 400 naming the entry.
pub fn pairs(
    template: &Template,
    entries: Vec<serde_json::Value>,
) -> Result<Vec<(String, String)>, RequestError> {
    let params = &template.manifest.params;
    let mut pairs = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let fail = |m: String| RequestError::param(format!("params[{i}]: {m}"));
        let serde_json::Value::Object(mut entry) = entry else {
            return Err(fail(
                "expected an object like {\"name\": \"title\", \"text\": \"Hi\"}".into(),
            ));
        };
        let name = match entry.remove("name") {
            Some(serde_json::Value::String(name)) => name,
            _ => {
                return Err(fail(
                    "needs a \"name\": the layer's id or a param's name".into(),
                ));
            }
        };
        let fail = |m: String| RequestError::param(format!("params[{i}] ({name}): {m}"));
        // Every param this entry may mean: bound to the layer of that id, or so named.
        let candidates: Vec<(&String, &ParamKind)> = params
            .iter()
            .filter(|(param, spec)| {
                *param == &name || spec.layer.as_ref().is_some_and(|l| l.id == name)
            })
            .map(|(param, spec)| (param, &spec.kind))
            .collect();
        if candidates.is_empty() {
            let mut layers: Vec<&str> = params
                .iter()
                .map(|(p, spec)| spec.layer.as_ref().map_or(p.as_str(), |l| l.id.as_str()))
                .collect();
            layers.dedup();
            return Err(RequestError::param(format!(
                "params[{i}]: no layer or param called {name:?} in {}; it has: {}",
                template.name,
                layers.join(", ")
            )));
        }
        if entry.is_empty() {
            return Err(fail(format!("give one of {}", property_names())));
        }
        for (property, value) in entry {
            let Some(&(_, kind)) = PROPERTIES.iter().find(|(p, _)| *p == property) else {
                return Err(fail(format!(
                    "unknown property {property:?}; expected one of {}",
                    property_names()
                )));
            };
            let Some((param, _)) = candidates.iter().find(|(_, k)| kind_name(k) == kind) else {
                let has: Vec<&str> = candidates.iter().map(|(_, k)| kind_name(k)).collect();
                return Err(fail(format!(
                    "{property} does not fit this layer: it is {}",
                    has.join(" and ")
                )));
            };
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) if kind == "bool" => b.to_string(),
                other => {
                    return Err(fail(format!(
                        "{property}: expected a {}, got {other}",
                        match kind {
                            "bool" => "boolean",
                            _ => "string",
                        }
                    )));
                }
            };
            pairs.push(((*param).clone(), value));
        }
    }
    Ok(pairs)
}

fn kind_name(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Text { .. } => "text",
        ParamKind::Image { .. } => "image",
        ParamKind::Color => "color",
        ParamKind::Bool => "bool",
        ParamKind::Number { .. } => "number",
        ParamKind::Enum { .. } => "enum",
    }
}

fn property_names() -> String {
    PROPERTIES
        .iter()
        .map(|(p, _)| *p)
        .collect::<Vec<_>>()
        .join(", ")
}
