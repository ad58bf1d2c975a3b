//! The error type of this crate and its stable machine codes.

/// Everything that can go wrong while checking a seal picture or encoding and
/// decoding a seal.
///
/// Each variant maps to a stable snake_case code ([`SealError::code`]) that services
/// put in their error envelope and clients translate; the `Display` text is concise
/// English for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The picture is not a PNG, JPEG or BMP (judged by its content, not its name).
    #[error("unsupported image format: {0}")]
    ImageFormat(String),
    /// The picture claims a supported format but cannot be decoded.
    #[error("the image cannot be decoded: {0}")]
    ImageCorrupt(String),
    /// The picture's declared pixel dimensions exceed the limits.
    #[error("image dimensions {width}x{height} exceed the limits: {reason}")]
    ImageDimensions {
        /// Declared width in pixels.
        width: u32,
        /// Declared height in pixels.
        height: u32,
        /// Which limit was hit.
        reason: String,
    },
    /// The input file is too big, or the normalised picture cannot be made small enough.
    #[error("image too large: {0}")]
    ImageTooLarge(String),
    /// Nothing is left once the white background is made transparent.
    #[error("the image is empty once its white background is removed")]
    ImageEmpty,
    /// The seal's physical size is out of range.
    #[error("seal size {width_mm}x{height_mm} mm is out of range ({min}..={max} mm)")]
    SealSize {
        /// Requested width in millimetres.
        width_mm: u32,
        /// Requested height in millimetres.
        height_mm: u32,
        /// Smallest allowed side in millimetres.
        min: u32,
        /// Largest allowed side in millimetres.
        max: u32,
    },
    /// The bytes are not a well-formed seal in strict DER.
    #[error("malformed seal: {0}")]
    SealMalformed(String),
    /// The seal cannot be encoded (a field is out of range or not representable).
    #[error("cannot encode seal: {0}")]
    SealEncoding(String),
}

impl SealError {
    /// The stable machine code: `image_format`, `image_corrupt`, `image_dimensions`,
    /// `image_too_large`, `image_empty`, `seal_size`, `seal_malformed` or
    /// `seal_encoding`.
    pub fn code(&self) -> &'static str {
        match self {
            SealError::ImageFormat(_) => "image_format",
            SealError::ImageCorrupt(_) => "image_corrupt",
            SealError::ImageDimensions { .. } => "image_dimensions",
            SealError::ImageTooLarge(_) => "image_too_large",
            SealError::ImageEmpty => "image_empty",
            SealError::SealSize { .. } => "seal_size",
            SealError::SealMalformed(_) => "seal_malformed",
            SealError::SealEncoding(_) => "seal_encoding",
        }
    }

    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        SealError::SealMalformed(msg.into())
    }

    pub(crate) fn encoding(msg: impl Into<String>) -> Self {
        SealError::SealEncoding(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let cases = [
            (SealError::ImageFormat("gif".into()), "image_format"),
            (SealError::ImageCorrupt("x".into()), "image_corrupt"),
            (
                SealError::ImageDimensions {
                    width: 1,
                    height: 2,
                    reason: "x".into(),
                },
                "image_dimensions",
            ),
            (SealError::ImageTooLarge("x".into()), "image_too_large"),
            (SealError::ImageEmpty, "image_empty"),
            (
                SealError::SealSize {
                    width_mm: 5,
                    height_mm: 5,
                    min: 10,
                    max: 100,
                },
                "seal_size",
            ),
            (SealError::malformed("x"), "seal_malformed"),
            (SealError::encoding("x"), "seal_encoding"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
            assert!(!err.to_string().is_empty());
        }
    }
}
