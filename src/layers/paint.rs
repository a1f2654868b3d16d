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
    if let Some(style) = node.attributes().find(|a| a.name() == "style") {
        if style::declaration(style.value(), "fill").is_some() {
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
