//! Reading a design's styling the way SVG resolves it: a property comes from the element's
//! `style` declarations, else its presentation attribute, else its parent's (for the
//! inherited properties text needs: font, fill, letter spacing, anchor).

use roxmltree::Node;

/// The value of the inherited property `name` for `node`, as written.
pub fn inherited<'a>(node: Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.ancestors()
        .filter(Node::is_element)
        .find_map(|n| own(n, name))
}

/// The value `node` itself gives `name`: its `style` declaration first, then its attribute.
pub fn own<'a>(node: Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.attribute("style")
        .and_then(|style| declaration(style, name))
        .or_else(|| node.attribute(name))
        .map(str::trim)
}

/// The value of `name` in a `style` attribute (`font-size:64px;fill:#fff`).
pub fn declaration<'a>(style: &'a str, name: &str) -> Option<&'a str> {
    style.split(';').find_map(|decl| {
        let (key, value) = decl.split_once(':')?;
        (key.trim() == name).then(|| value.trim())
    })
}

/// A length in user units: `64`, `64px`, `48.5`; `em` relative to `font_size`.
pub fn length(value: &str, font_size: f64) -> Option<f64> {
    let value = value.trim();
    if let Some(em) = value.strip_suffix("em") {
        return em.trim().parse::<f64>().ok().map(|n| n * font_size);
    }
    let number = value.strip_suffix("px").unwrap_or(value).trim();
    number.parse().ok().filter(|n: &f64| n.is_finite())
}

/// A font weight as a number: `bold` 700, `normal` 400, numbers as given.
pub fn weight(value: &str) -> Option<u16> {
    match value.trim() {
        "normal" => Some(400),
        "bold" | "bolder" => Some(700),
        "lighter" => Some(300),
        number => number.parse().ok().filter(|w| (1..=1000).contains(w)),
    }
}

/// A font-family list without the quotes around names: `'Inter Display', sans-serif` ->
/// `Inter Display, sans-serif`.
pub fn families(value: &str) -> String {
    value
        .split(',')
        .map(|f| f.trim().trim_matches(|c| c == '"' || c == '\''))
        .filter(|f| !f.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_wins_over_attributes_and_parents_fill_in() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" font-family="Inter" fill="red">
            <g style="font-size:40px; fill: #00ff00"><text id="t" font-size="12" style="letter-spacing:0.1em"><tspan x="1" y="2">Hi</tspan></text></g></svg>"#;
        let doc = roxmltree::Document::parse(svg).unwrap();
        let tspan = doc.descendants().find(|n| n.has_tag_name("tspan")).unwrap();
        assert_eq!(inherited(tspan, "font-size"), Some("12"));
        assert_eq!(inherited(tspan, "fill"), Some("#00ff00"));
        assert_eq!(inherited(tspan, "font-family"), Some("Inter"));
        assert_eq!(inherited(tspan, "letter-spacing"), Some("0.1em"));
        assert_eq!(inherited(tspan, "text-anchor"), None);
        assert_eq!(length("0.1em", 12.0), Some(1.2000000000000002));
        assert_eq!(length("64px", 0.0), Some(64.0));
        assert_eq!(weight("bold"), Some(700));
        assert_eq!(
            families("'Inter Display', \"Noto Sans\""),
            "Inter Display, Noto Sans"
        );
    }
}
