//! Where a template's markup goes wrong, told in its own lines where possible.

use crate::raster;

/// An XML error in the template's own markup (parsed with its Tera tags blanked out), at its
/// line and column: the same at every size.
pub(super) fn source_error(source: &str) -> Option<String> {
    let blanked = crate::layers::blank_tera(source);
    let error = roxmltree::Document::parse_with_options(&blanked, xml_options()).err()?;
    let pos = error.pos();
    let message = error.to_string();
    let message = message.rsplit_once(" at ").map_or(&*message, |m| m.0);
    Some(format!("line {}, column {}: {message}", pos.row, pos.col))
}

/// An error only the filled SVG has, shown with the filled line.
pub(super) fn filled_error(filled: &str, error: &raster::RasterError) -> String {
    let mut message = format!("filled with its examples: {error}");
    let filled_error = roxmltree::Document::parse_with_options(filled, xml_options()).err();
    if let Some(pos) = filled_error.map(|e| e.pos()) {
        let line = filled.lines().nth(pos.row as usize - 1).unwrap_or("");
        // About 40 characters either side of the error's column.
        let from = (pos.col as usize).saturating_sub(40);
        let excerpt: String = line.chars().skip(from).take(80).collect();
        message.push_str(&format!("; the filled line reads: {:?}", excerpt.trim()));
    }
    message
}

fn xml_options<'input>() -> roxmltree::ParsingOptions<'input> {
    roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    }
}
