//! Colour and image layers: which fills a colour changes, and which picture an image
//! replaces (an `<image>`, or the image behind a shape's pattern fill, as Figma exports them).

use roxmltree::Node;

use super::edit::Edit;
use super::style;

/// The `<image>` whose picture an image layer replaces: the element, or the image behind a
/// shape's pattern fill (`fill="url(#pattern0)"` -> `<pattern><use href="#image0">`).
pub fn image_element<'a>(
    doc: &'a roxmltree::Document<'a>,
    node: Node<'a, 'a>,
) -> Option<Node<'a, 'a>> {
    if node.has_tag_name("image") {
        return Some(node);
    }
    let by_id = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id));
    let fill = style::own(node, "fill")?;
    let id = fill.strip_prefix("url(#")?.strip_suffix(')')?;
    let pattern = by_id(id.trim_matches(|c| c == '"' || c == '\''))?;
    pattern.descendants().find_map(|n| {
        if n.has_tag_name("image") {
            return Some(n);
        }
        let href = n.attributes().find(|a| a.name() == "href")?.value();
        by_id(href.strip_prefix('#')?).filter(|i| i.has_tag_name("image"))
    })
}

/// What a colour layer recolours: a shape itself; for a group, the group and everything in
/// it that sets its own fill (not `none`, and not inside definitions).
pub fn fill_targets<'a>(node: Node<'a, 'a>) -> Vec<Node<'a, 'a>> {
    const CONTAINERS: &[&str] = &["g", "svg", "a", "switch"];
    if !CONTAINERS.contains(&node.tag_name().name()) {
        return vec![node];
    }
    const DEFINITIONS: &[&str] = &["defs", "clipPath", "mask", "pattern", "marker", "symbol"];
    let mut targets = vec![node];
    targets.extend(node.descendants().skip(1).filter(|n| {
        n.is_element()
            && !n
                .ancestors()
                .any(|a| DEFINITIONS.contains(&a.tag_name().name()))
            && style::own(*n, "fill").is_some_and(|f| f != "none")
    }));
    targets
}

/// Sets `node`'s fill to the param: in its `style` if it declares one there, else its
/// attribute, else a new attribute.
pub fn fill_edit(source: &str, node: Node, param: &str) -> Edit {
    let value = format!("{{{{ {param} }}}}");
    if let Some(style) = node.attributes().find(|a| a.name() == "style")
        && style::declaration(style.value(), "fill").is_some()
    {
        let rewritten: Vec<String> = source[style.range_value()]
            .split(';')
            .map(|decl| match decl.split_once(':') {
                Some((key, _)) if key.trim() == "fill" => format!("fill:{value}"),
                _ => decl.to_string(),
            })
            .collect();
        return Edit {
            range: style.range_value(),
            text: rewritten.join(";"),
        };
    }
    if let Some(fill) = node
        .attributes()
        .find(|a| a.name() == "fill" && a.namespace().is_none())
    {
        return Edit {
            range: fill.range_value(),
            text: value,
        };
    }
    let start = node.range().start + 1;
    let name_len = source[start..]
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(0);
    let at = start + name_len;
    Edit {
        range: at..at,
        text: format!(" fill=\"{value}\""),
    }
}

/// For an image layer on a plain shape: the image drawn right after the shape, covering its
/// bounding box and clipped to its outline (a copy of the shape without its id and
/// transform; the image takes the transform), only when the param is set.
pub fn clipped_image(source: &str, node: Node, param: &str) -> Option<Edit> {
    let (x, y, width, height) = bounding_box(node)?;
    // The shape's own markup, minus the attributes a clip-path copy must not repeat.
    let range = node.range();
    let mut copy = source[range.clone()].to_string();
    let mut dropped: Vec<_> = node
        .attributes()
        .filter(|a| {
            matches!(
                a.name(),
                "id" | "transform" | "clip-path" | "mask" | "filter"
            )
        })
        .map(|a| a.range())
        .collect();
    dropped.sort_by_key(|r| std::cmp::Reverse(r.start));
    for r in dropped {
        copy.replace_range(r.start - range.start..r.end - range.start, "");
    }
    let id = node.attribute("id").unwrap_or("layer");
    let clip: String = format!("vellum-clip-{id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let transform = node
        .attribute("transform")
        .map(|t| {
            let mut attr = String::from(" transform=\"");
            crate::text::svg::escape_into(t, &mut attr);
            attr.push('"');
            attr
        })
        .unwrap_or_default();
    let copy = super::edit::literal(&copy);
    Some(Edit {
        range: range.end..range.end,
        text: format!(
            "{{% if {param} %}}<clipPath id=\"{clip}\">{copy}</clipPath><image href=\"{{{{ {param} }}}}\" \
             x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{height}\" \
             preserveAspectRatio=\"xMidYMid slice\" clip-path=\"url(#{clip})\"{transform}/>{{% endif %}}"
        ),
    })
}

/// A shape's bounding box in its own coordinates, from its geometry attributes (for a path
/// or polygon, the box of its points and control points, which covers it).
fn bounding_box(node: Node) -> Option<(f64, f64, f64, f64)> {
    let number = |name: &str| node.attribute(name).and_then(|v| style::length(v, 16.0));
    let (x0, y0, x1, y1) = match node.tag_name().name() {
        "rect" => {
            let (x, y) = (number("x").unwrap_or(0.0), number("y").unwrap_or(0.0));
            (x, y, x + number("width")?, y + number("height")?)
        }
        "circle" => {
            let (cx, cy, r) = (
                number("cx").unwrap_or(0.0),
                number("cy").unwrap_or(0.0),
                number("r")?,
            );
            (cx - r, cy - r, cx + r, cy + r)
        }
        "ellipse" => {
            let (cx, cy) = (number("cx").unwrap_or(0.0), number("cy").unwrap_or(0.0));
            let (rx, ry) = (number("rx")?, number("ry")?);
            (cx - rx, cy - ry, cx + rx, cy + ry)
        }
        "polygon" | "polyline" => {
            let points: Vec<f64> = node
                .attribute("points")?
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter_map(|n| n.parse().ok())
                .collect();
            let xs = points.iter().step_by(2);
            let ys = points.iter().skip(1).step_by(2);
            extent(xs.copied().zip(ys.copied()))?
        }
        "path" => {
            let mut points = Vec::new();
            for segment in svgtypes::SimplifyingPathParser::from(node.attribute("d")?) {
                use svgtypes::SimplePathSegment as S;
                match segment.ok()? {
                    S::MoveTo { x, y } | S::LineTo { x, y } => points.push((x, y)),
                    S::CurveTo {
                        x1,
                        y1,
                        x2,
                        y2,
                        x,
                        y,
                    } => {
                        points.extend([(x1, y1), (x2, y2), (x, y)]);
                    }
                    S::Quadratic { x1, y1, x, y } => points.extend([(x1, y1), (x, y)]),
                    S::ClosePath => {}
                }
            }
            extent(points.into_iter())?
        }
        _ => return None,
    };
    (x1 > x0 && y1 > y0).then_some((x0, y0, x1 - x0, y1 - y0))
}

/// The smallest box holding every point.
fn extent(points: impl Iterator<Item = (f64, f64)>) -> Option<(f64, f64, f64, f64)> {
    points.fold(None, |acc, (x, y)| match acc {
        None => Some((x, y, x, y)),
        Some((x0, y0, x1, y1)) => Some((x0.min(x), y0.min(y), x1.max(x), y1.max(y))),
    })
}
