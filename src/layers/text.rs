//! Text layers: the `<text>` a layer names, redrawn by `text_box` in the design's own font,
//! size, weight, fill, spacing and anchor, fitted to its box.

use roxmltree::Node;

use super::style;
use crate::manifest::Layer;

/// The `<text>` a text layer names: the element itself, or the one text inside a group.
pub fn text_element<'a>(node: Node<'a, 'a>) -> Option<Node<'a, 'a>> {
    if node.has_tag_name("text") {
        return Some(node);
    }
    let mut texts = node.descendants().filter(|n| n.has_tag_name("text"));
    let first = texts.next()?;
    texts.next().is_none().then_some(first)
}

/// The `text_box` call that draws `param` as the design drew `text`, in a group keeping the
/// element's id, transform and effects.
pub fn text_box_call(
    text: Node,
    param: &str,
    layer: &Layer,
    fill_param: Option<&str>,
    (canvas_width, _): (f64, f64),
) -> Result<String, String> {
    let first = text
        .descendants()
        .find(|n| n.has_tag_name("tspan") && n.attribute("y").is_some())
        .unwrap_or(text);
    let number = |n: Node, name: &str| n.attribute(name).and_then(|v| style::length(v, 0.0));
    let x = number(first, "x")
        .or_else(|| number(text, "x"))
        .unwrap_or(0.0);
    let baseline = number(first, "y")
        .or_else(|| number(text, "y"))
        .unwrap_or(0.0);
    let font_size = style::inherited(first, "font-size")
        .and_then(|v| style::length(v, 16.0))
        .unwrap_or(16.0);
    if font_size <= 0.0 {
        return Err("its font size is not positive".into());
    }
    let family = style::inherited(first, "font-family").map(style::families);
    let weight = style::inherited(first, "font-weight")
        .and_then(style::weight)
        .unwrap_or(400);
    let spacing = style::inherited(first, "letter-spacing")
        .and_then(|v| style::length(v, font_size))
        .unwrap_or(0.0);
    let fill = style::inherited(first, "fill").unwrap_or("#000000");
    let anchor = style::inherited(first, "text-anchor").unwrap_or("start");
    // Lines as the design has them: the distinct baselines of its tspans.
    let mut baselines: Vec<f64> = text
        .descendants()
        .filter(|n| n.has_tag_name("tspan"))
        .filter_map(|n| number(n, "y"))
        .collect();
    baselines.dedup();
    let lines = baselines.len().max(1);
    let line_height = match baselines.as_slice() {
        [a, b, ..] => ((b - a) / font_size).clamp(0.5, 3.0),
        _ => 1.2,
    };
    let (box_x, top, width, height) = match layer.area {
        Some(area) => (area.x, area.y, area.width, Some(area.height)),
        None => {
            let (left, width) = match anchor {
                "middle" => {
                    let half = x.min(canvas_width - x);
                    (x - half, 2.0 * half)
                }
                "end" => (0.0, x),
                _ => (x, canvas_width - x),
            };
            (left, baseline - font_size, width, None)
        }
    };
    if width <= 0.0 {
        return Err("its text starts at or past the canvas edge; give the layer a box".into());
    }
    let align = match anchor {
        "middle" => "middle",
        "end" => "end",
        _ => "start",
    };
    let mut args = vec![
        format!("text={param}"),
        format!("x={box_x}"),
        format!("y={top}"),
        format!("width={width}"),
        format!("max_lines={}", layer.max_lines.unwrap_or(lines)),
        format!("font_size={font_size}"),
        format!(
            "min_font_size={}",
            layer
                .min_font_size
                .unwrap_or(font_size / 2.0)
                .min(font_size)
        ),
        format!("line_height={line_height}"),
        format!("font_weight={weight}"),
        format!("letter_spacing={spacing}"),
        format!("align={}", tera_string(align)?),
        match fill_param {
            Some(color) => format!("fill={color}"),
            None => format!("fill={}", tera_string(fill)?),
        },
    ];
    if let Some(height) = height {
        args.push(format!("height={height}"));
    }
    if let Some(family) = family {
        args.push(format!("font_family={}", tera_string(&family)?));
    }
    let mut group = String::from("<g");
    for name in [
        "id",
        "transform",
        "opacity",
        "filter",
        "clip-path",
        "mask",
        "visibility",
    ] {
        if let Some(value) = text.attribute(name) {
            group.push_str(&format!(" {name}=\""));
            crate::text::svg::escape_into(value, &mut group);
            group.push('"');
        }
    }
    Ok(format!(
        "{group}>{{{{ text_box({}) }}}}</g>",
        args.join(", ")
    ))
}

/// `value` as a Tera string literal, in whichever quotes it does not contain.
pub fn tera_string(value: &str) -> Result<String, String> {
    ['"', '\'', '`']
        .into_iter()
        .find(|q| !value.contains(*q))
        .map(|q| format!("{q}{value}{q}"))
        .ok_or_else(|| format!("{value:?} holds every kind of quote"))
}
