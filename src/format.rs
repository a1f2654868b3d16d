//! Output formats: what a path's extension, a `--name` pattern or a JSON `format` field may ask
//! for, and how each is labelled on the wire.
//!
//! Encoding lives in [`crate::encode`]; this module only names the formats, so that every layer
//! (params, engine, server, batch) can use them without importing the encoders.

/// The formats in words, for error messages: "expected png, jpg, webp, svg or pdf".
pub const EXPECTED: &str = "png, jpg, webp, svg or pdf";

/// An output format, chosen by the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// PNG, the default.
    Png,
    /// JPEG (`.jpg` or `.jpeg`), composited over white.
    Jpeg,
    /// WebP: lossy (libwebp) by default, lossless on request.
    Webp,
    /// The filled SVG itself, not rasterised.
    Svg,
    /// PDF: the filled SVG as vector graphics, text selectable (see [`crate::pdf`]).
    Pdf,
}

impl Format {
    /// Every format, in the order the docs list them.
    pub const ALL: [Format; 5] = [
        Format::Png,
        Format::Jpeg,
        Format::Webp,
        Format::Svg,
        Format::Pdf,
    ];

    /// Maps a file extension (without the dot) to a format.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "webp" => Some(Format::Webp),
            "svg" => Some(Format::Svg),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    /// A URL's file part split into template name and format: `post.png` -> (`post`, PNG),
    /// `post` -> (`post`, PNG). Only a plain alphanumeric suffix is an extension; anything
    /// else is part of the name. An unknown extension is the error, for its message.
    pub fn split_file(file: &str) -> Result<(&str, Format), &str> {
        let extension = file
            .rsplit_once('.')
            .filter(|(_, ext)| !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()));
        match extension {
            Some((name, ext)) => Format::from_extension(ext).map(|f| (name, f)).ok_or(ext),
            None => Ok((file, Format::Png)),
        }
    }

    /// The canonical extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
            Format::Svg => "svg",
            Format::Pdf => "pdf",
        }
    }

    /// The MIME type for `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
            Format::Svg => "image/svg+xml",
            Format::Pdf => "application/pdf",
        }
    }

    /// Whether the output is pixels (so the pixel budget applies), not vector.
    pub fn is_raster(self) -> bool {
        !matches!(self, Format::Svg | Format::Pdf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_reads_back_from_its_extension() {
        for format in Format::ALL {
            assert_eq!(Format::from_extension(format.extension()), Some(format));
        }
        assert_eq!(Format::from_extension("JPEG"), Some(Format::Jpeg));
        assert_eq!(Format::from_extension("gif"), None);
    }
}
