//! What fitting takes ([`FitRequest`]) and gives ([`Fitted`], whose lines are [`Run`]s), and
//! a paragraph's [`Direction`]. `fit_text` hands `Fitted` to templates as it is serialised.

use serde::{Deserialize, Serialize};

/// What to fit and into what.
#[derive(Debug, Clone)]
pub struct FitRequest<'a> {
    /// The text; newlines force a line break.
    pub text: &'a str,
    /// Box width in px.
    pub width: f32,
    /// Most lines allowed.
    pub max_lines: usize,
    /// Box height in px, if the box is bounded by height (then lines are also limited by it).
    pub max_height: Option<f32>,
    /// Preferred font size in px.
    pub font_size: f32,
    /// Smallest font size to shrink to before truncating.
    pub min_font_size: f32,
    /// Font family, as in `font-family`.
    pub family: &'a str,
    /// Font weight, 100 to 900.
    pub weight: u16,
    /// Line height as a multiple of the font size.
    pub line_height: f32,
    /// Letter spacing in px, as SVG's `letter-spacing` (0 for none).
    pub letter_spacing: f32,
    /// Even out line lengths (as CSS `text-wrap: balance`): the fewest lines at the chosen
    /// size, each as short as that allows, so a title does not end in one orphaned word.
    pub balance: bool,
    /// The paragraph's base direction.
    pub direction: Direction,
}

/// A paragraph's base direction: which side lines start on and where neutral characters
/// (punctuation, numbers between words) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the first strong character (Arabic or Hebrew: right to left), else left to right.
    #[default]
    Auto,
    /// Left to right.
    Ltr,
    /// Right to left.
    Rtl,
}

impl Direction {
    /// Whether `text` is laid out right to left under this direction.
    pub fn is_rtl(self, text: &str) -> bool {
        match self {
            Direction::Ltr => false,
            Direction::Rtl => true,
            Direction::Auto => {
                unicode_bidi::get_base_direction(text) == unicode_bidi::Direction::Rtl
            }
        }
    }
}

/// The fitted text, ready for a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    /// The lines, in order, without trailing spaces.
    pub lines: Vec<String>,
    /// The chosen font size in px.
    pub font_size: f32,
    /// Distance between baselines in px.
    pub line_height: f32,
    /// `lines.len() * line_height`.
    pub height: f32,
    /// Whether text was cut and ended with an ellipsis.
    pub truncated: bool,
    /// Per line, its runs in visual (left-to-right) order.
    pub runs: Vec<Vec<Run>>,
    /// Per line, its width in px.
    pub widths: Vec<f32>,
    /// Whether the paragraph runs right to left (lines then start at the box's right edge).
    pub rtl: bool,
    /// The family list measured with, as given.
    pub font_family: String,
    /// The weight measured with.
    pub font_weight: u16,
    /// The letter spacing measured with, px.
    pub letter_spacing: f32,
    /// The box's width in px.
    pub box_width: f32,
    /// The box's height in px, when it was bounded by height.
    pub box_height: Option<f32>,
}

/// A piece of a line in one direction and one font, for its own `<tspan x=..>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The text, in logical order (the renderer reorders right-to-left runs itself).
    pub text: String,
    /// Offset of the run's left edge from the line's left edge, in px.
    pub x: f32,
}
