//! Image params in filled SVG. An image's `data:` URL (megabytes for a large photo) goes into
//! the template as a short marker, and after Tera has filled the template the URL is put in
//! place of the marker in one copy: Tera would otherwise escape and write it out piece by
//! piece, which took over 40% of a render with a 3.4 MB PNG photo. A `data:` URL needs no
//! escaping in an attribute, so the parsed SVG is the same.
//!
//! Markers start with a prefix drawn at random when a set loads, so no param value can hold
//! one. A template uses an image param as an `href` (or tests it with `if`); a filter that
//! changes the value would change the marker, and the image would not be drawn.

use std::hash::{BuildHasher, RandomState};

/// The markers of one template set.
pub(super) struct Markers {
    prefix: String,
}

impl Markers {
    /// Markers with a new random prefix.
    pub(super) fn new() -> Markers {
        let random = RandomState::new();
        let (a, b) = (random.hash_one(1u8), random.hash_one(2u8));
        Markers {
            prefix: format!("vellum-image-{a:016x}{b:016x}-"),
        }
    }

    /// The marker of the `index`th image of a fill.
    pub(super) fn marker(&self, index: usize) -> String {
        format!("{}{index}-", self.prefix)
    }

    /// `filled` with the marker of each of `urls` (in order) replaced by the URL.
    pub(super) fn put_images(&self, mut filled: String, urls: &[&str]) -> String {
        for (index, url) in urls.iter().enumerate() {
            let marker = self.marker(index);
            if filled.contains(&marker) {
                filled = filled.replace(&marker, url);
            }
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_marker_becomes_its_url_and_nothing_else_changes() {
        let markers = Markers::new();
        let urls: Vec<String> = (0..12)
            .map(|i| format!("data:image/png;base64,A{i}"))
            .collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let filled = format!(
            "<image href=\"{}\"/><image href=\"{}\"/><image href=\"{}\"/><text>{}</text>",
            markers.marker(1),
            markers.marker(11),
            markers.marker(1),
            "vellum-image-0-",
        );
        assert_eq!(
            markers.put_images(filled, &urls),
            "<image href=\"data:image/png;base64,A1\"/><image href=\"data:image/png;base64,A11\"/>\
             <image href=\"data:image/png;base64,A1\"/><text>vellum-image-0-</text>"
        );
    }

    #[test]
    fn two_sets_draw_different_prefixes() {
        assert_ne!(Markers::new().marker(0), Markers::new().marker(0));
    }
}
