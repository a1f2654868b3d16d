//! Image files as the renderer takes them: their type from magic bytes, the checks every
//! embedded image passes, and `data:` URLs.
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

/// Whether an `image` param's value is a URL (fetched from an allow-listed host) rather than
/// a path (read from an image directory). Anything with a scheme is a URL.
pub fn is_url(value: &str) -> bool {
    url::Url::parse(value).is_ok()
}

/// A `data:` URL for an `<image href>`, the only kind of href the parser resolves.
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    format!("data:{mime};base64,{encoded}")
}

/// Why bytes are not an image a template may draw; shared by fetched and local images.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    /// The file is larger than allowed.
    #[error("the image is larger than {0} bytes")]
    TooLarge(usize),
    /// The bytes are not PNG, JPEG, WebP or GIF.
    #[error("not a PNG, JPEG, WebP or GIF image")]
    NotAnImage,
    /// The image's declared size is too large.
    #[error("the image is {0}x{1} pixels; at most {2} per side")]
    TooManyPixels(usize, usize, usize),
}

/// The MIME type of `bytes` if they are a PNG, JPEG, WebP or GIF of at most `max_side`
/// pixels per side (read from the header, before anything is decoded).
pub fn check_image(bytes: &[u8], max_side: usize) -> Result<&'static str, ImageError> {
    let mime = raster_mime(bytes).ok_or(ImageError::NotAnImage)?;
    let size = imagesize::blob_size(bytes).map_err(|_| ImageError::NotAnImage)?;
    if size.width > max_side || size.height > max_side {
        return Err(ImageError::TooManyPixels(size.width, size.height, max_side));
    }
    Ok(mime)
}
