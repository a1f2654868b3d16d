//! Image files as the renderer takes them: their type from magic bytes, and `data:` URLs.
//!
//! `<image href>` resolves nothing but `data:` URLs (see [`crate::raster`]), so template
//! assets and fetched remote images both arrive in a template through [`data_url`].

/// The MIME type of a PNG, JPEG, WebP or GIF file, from its magic bytes; `None` for
/// anything else (SVG included: only the project's own assets may be SVG).
pub fn raster_mime(bytes: &[u8]) -> Option<&'static str> {
    match imagesize::image_type(bytes).ok()? {
        imagesize::ImageType::Png => Some("image/png"),
        imagesize::ImageType::Jpeg => Some("image/jpeg"),
        imagesize::ImageType::Webp => Some("image/webp"),
        imagesize::ImageType::Gif => Some("image/gif"),
        _ => None,
    }
}

/// A `data:` URL for an `<image href>`, the only kind of href the parser resolves.
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    format!("data:{mime};base64,{encoded}")
}
