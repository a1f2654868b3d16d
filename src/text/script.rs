//! What a grapheme's script asks of layout: whether letter spacing applies to it.

use unicode_segmentation::UnicodeSegmentation;

/// How many graphemes of `text` take letter spacing: not those of cursive scripts (Arabic,
/// Devanagari and others), as in usvg and CSS.
pub(super) fn spaced(text: &str) -> usize {
    use unicode_script::{Script, UnicodeScript};
    text.graphemes(true)
        .filter(|g| {
            let script = g.chars().next().map_or(Script::Common, |c| c.script());
            !matches!(
                script,
                Script::Arabic
                    | Script::Syriac
                    | Script::Nko
                    | Script::Manichaean
                    | Script::Psalter_Pahlavi
                    | Script::Mandaic
                    | Script::Mongolian
                    | Script::Phags_Pa
                    | Script::Devanagari
                    | Script::Bengali
                    | Script::Gurmukhi
                    | Script::Modi
                    | Script::Sharada
                    | Script::Syloti_Nagri
                    | Script::Tirhuta
                    | Script::Ogham
            )
        })
        .count()
}
