//! Seal picture check and normalisation.
//!
//! An uploaded picture (PNG, JPEG or BMP, recognised by its content) becomes a PNG
//! fit to go into a seal: the near-white background made transparent, transparent
//! borders trimmed, scaled down to the seal's physical size at 300 dpi, and small
//! enough for [`ImageLimits::max_output_bytes`].
//!
//! The declared pixel dimensions are checked against [`ImageLimits`] from the file
//! header before any pixel is decoded, so a small file that claims a huge picture is
//! refused without allocating for it.

use std::io::Cursor;

use ::image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use ::image::imageops::{self, FilterType};
use ::image::metadata::Orientation;
use ::image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat,
    ImageReader, Limits, RgbaImage,
};

use crate::error::SealError;

/// The smallest seal side accepted, in millimetres.
pub const MIN_SEAL_MM: u32 = 10;
/// The largest seal side accepted, in millimetres.
pub const MAX_SEAL_MM: u32 = 100;
/// The print resolution the picture is sized for.
pub const DPI: u32 = 300;
/// The longest side of a normalised picture, in pixels.
pub const MAX_OUTPUT_SIDE: u32 = 1024;
/// Shrinking to meet the output budget stops before the long side drops below this.
pub const MIN_OUTPUT_SIDE: u32 = 64;

/// A pixel whose smallest channel, once composited onto white, is at least this is
/// background and becomes fully transparent.
const WHITE_HI: u32 = 230;
/// The ink level (see [`ink_level`]) is never taken above this, which bounds how
/// transparent light ink can become.
const MAX_INK_LEVEL: u32 = 160;
/// Added to the median ink level so that ink a little lighter than the median
/// (grain, compression noise) stays opaque.
const INK_TOLERANCE: u32 = 16;

/// Bounds on the input and output of [`normalise`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest input file accepted, in bytes (default 4 MiB).
    pub max_input_bytes: usize,
    /// Largest declared width or height accepted, in pixels (default 4096).
    pub max_side_px: u32,
    /// Largest declared width × height accepted (default 16,777,216).
    pub max_pixels: u64,
    /// Largest normalised PNG, in bytes (default 48 KiB).
    pub max_output_bytes: usize,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_input_bytes: 4 * 1024 * 1024,
            max_side_px: 4096,
            max_pixels: 16_777_216,
            max_output_bytes: 48 * 1024,
        }
    }
}

/// A picture ready for [`crate::Picture`] with kind `PNG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedImage {
    /// The PNG file (8-bit RGBA).
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width_px: u32,
    /// Height in pixels.
    pub height_px: u32,
}

/// Recognises a supported picture by its magic bytes: `"PNG"`, `"JPG"` or `"BMP"`
/// (the `SES_ESPictrueInfo.type` names); `None` for anything else.
pub fn sniff(input: &[u8]) -> Option<&'static str> {
    if input.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("PNG")
    } else if input.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("JPG")
    } else if input.starts_with(b"BM") {
        Some("BMP")
    } else {
        None
    }
}

/// Checks and normalises a seal picture for a seal of `width_mm` × `height_mm`.
///
/// Steps: refuse sizes outside 10..=100 mm (`seal_size`), inputs above
/// `max_input_bytes` (`image_too_large`) and anything but PNG, JPEG or BMP
/// (`image_format`); check the declared dimensions (`image_dimensions`); decode to
/// RGBA; make near-white pixels transparent with soft edges; trim transparent
/// borders (`image_empty` when nothing is left); scale down, keeping the aspect
/// ratio, to fit the seal at 300 dpi with the long side at most 1024 pixels
/// (pictures are never scaled up: the seal carries its size in millimetres); encode
/// a PNG with the best compression, and shrink by 15 % steps until it fits
/// `max_output_bytes` (`image_too_large` once the long side would drop below 64).
///
/// Normalising a normalised picture gives the same dimensions.
pub fn normalise(
    input: &[u8],
    width_mm: u32,
    height_mm: u32,
    limits: &ImageLimits,
) -> Result<NormalisedImage, SealError> {
    let size_ok = |mm: u32| (MIN_SEAL_MM..=MAX_SEAL_MM).contains(&mm);
    if !size_ok(width_mm) || !size_ok(height_mm) {
        return Err(SealError::SealSize {
            width_mm,
            height_mm,
            min: MIN_SEAL_MM,
            max: MAX_SEAL_MM,
        });
    }
    if input.len() > limits.max_input_bytes {
        return Err(SealError::ImageTooLarge(format!(
            "the file has {} bytes, more than the {} allowed",
            input.len(),
            limits.max_input_bytes
        )));
    }

    let mut rgba = decode(input, limits)?;
    let ink = ink_level(&rgba);
    whiten(&mut rgba, ink);
    let trimmed = trim(&rgba).ok_or(SealError::ImageEmpty)?;
    drop(rgba);

    let (w, h) = trimmed.dimensions();
    let (tw, th) = fit(
        w,
        h,
        mm_to_px(width_mm).min(MAX_OUTPUT_SIDE),
        mm_to_px(height_mm).min(MAX_OUTPUT_SIDE),
    );
    let base = if (tw, th) == (w, h) {
        trimmed
    } else {
        rescale(&trimmed, tw, th, ink)?
    };

    let mut current = base.clone();
    loop {
        let png = encode_png(&current)?;
        if png.len() <= limits.max_output_bytes {
            return Ok(NormalisedImage {
                png,
                width_px: current.width(),
                height_px: current.height(),
            });
        }
        let (cw, ch) = current.dimensions();
        let (nw, nh) = (shrink(cw), shrink(ch));
        if nw.max(nh) < MIN_OUTPUT_SIDE {
            return Err(SealError::ImageTooLarge(format!(
                "the picture does not fit in {} bytes even at {cw}x{ch} pixels",
                limits.max_output_bytes
            )));
        }
        current = rescale(&base, nw, nh, ink)?;
    }
}

/// Pixels for `mm` millimetres at [`DPI`], rounded.
fn mm_to_px(mm: u32) -> u32 {
    (mm * DPI * 10 + 127) / 254
}

/// 85 % of a side, rounded, at least 1.
fn shrink(side: u32) -> u32 {
    ((u64::from(side) * 85 + 50) / 100).max(1) as u32
}

/// The size of a `w`×`h` picture scaled down (never up) to fit `box_w`×`box_h`.
fn fit(w: u32, h: u32, box_w: u32, box_h: u32) -> (u32, u32) {
    let (w64, h64, bw, bh) = (
        u64::from(w),
        u64::from(h),
        u64::from(box_w),
        u64::from(box_h),
    );
    if w64 <= bw && h64 <= bh {
        return (w, h);
    }
    // Scale = min(bw / w, bh / h); compare bw * h with bh * w to pick the side.
    let (nw, nh) = if bw * h64 <= bh * w64 {
        (bw, (h64 * bw + w64 / 2) / w64.max(1))
    } else {
        ((w64 * bh + h64 / 2) / h64.max(1), bh)
    };
    (nw.max(1) as u32, nh.max(1) as u32)
}

fn decode(input: &[u8], limits: &ImageLimits) -> Result<RgbaImage, SealError> {
    let format = match sniff(input) {
        Some("PNG") => ImageFormat::Png,
        Some("JPG") => ImageFormat::Jpeg,
        Some("BMP") => ImageFormat::Bmp,
        _ => {
            return Err(SealError::ImageFormat(
                "only PNG, JPEG and BMP pictures are accepted".into(),
            ))
        }
    };
    // Room for the decoded pixels at 16 bits per RGBA channel, plus working space.
    let max_alloc = limits
        .max_pixels
        .saturating_mul(8)
        .saturating_add(32 * 1024 * 1024);
    let mut header_limits = Limits::default();
    header_limits.max_alloc = Some(max_alloc);

    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    reader.limits(header_limits.clone());
    // Reads the headers only: no pixel buffer is allocated yet.
    let mut decoder = reader.into_decoder().map_err(|e| map_error(e, 0, 0))?;
    let (width, height) = decoder.dimensions();
    let dims_error = |reason: String| SealError::ImageDimensions {
        width,
        height,
        reason,
    };
    if width == 0 || height == 0 {
        return Err(SealError::ImageCorrupt("the picture has no pixels".into()));
    }
    if width > limits.max_side_px || height > limits.max_side_px {
        return Err(dims_error(format!(
            "a side is longer than {} pixels",
            limits.max_side_px
        )));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(dims_error(format!(
            "more than {} pixels",
            limits.max_pixels
        )));
    }
    let mut pixel_limits = header_limits;
    pixel_limits.max_image_width = Some(limits.max_side_px);
    pixel_limits.max_image_height = Some(limits.max_side_px);
    decoder
        .set_limits(pixel_limits)
        .map_err(|e| map_error(e, width, height))?;

    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| map_error(e, width, height))?;
    image.apply_orientation(orientation);
    Ok(image.into_rgba8())
}

fn map_error(e: ImageError, width: u32, height: u32) -> SealError {
    match e {
        ImageError::Limits(l) => SealError::ImageDimensions {
            width,
            height,
            reason: l.to_string(),
        },
        ImageError::Unsupported(u) => SealError::ImageFormat(u.to_string()),
        other => SealError::ImageCorrupt(other.to_string()),
    }
}

/// A pixel composited onto white: its three channels and the smallest of them.
fn on_white([r, g, b, a]: [u8; 4]) -> ([u32; 3], u32) {
    let a = u32::from(a);
    let c = [r, g, b].map(|v| (u32::from(v) * a + 255 * (255 - a) + 127) / 255);
    let min = c.iter().copied().min().unwrap_or(0);
    (c, min)
}

/// How dark the ink is: the median, over the pixels that are not background, of
/// each pixel's smallest channel (composited onto white), plus [`INK_TOLERANCE`] for
/// the grain of scans and JPEG, capped at [`MAX_INK_LEVEL`]. Pixels at least this
/// dark stay opaque.
fn ink_level(img: &RgbaImage) -> u32 {
    let mut histogram = [0u64; 256];
    let mut total = 0u64;
    for p in img.pixels() {
        let (_, min) = on_white(p.0);
        if min < WHITE_HI {
            if let Some(slot) = histogram.get_mut(min as usize) {
                *slot += 1;
                total += 1;
            }
        }
    }
    let mut seen = 0u64;
    for (level, count) in histogram.iter().enumerate() {
        seen += count;
        if total > 0 && seen * 2 >= total {
            return (level as u32 + INK_TOLERANCE).min(MAX_INK_LEVEL);
        }
    }
    0
}

/// Makes the near-white background transparent, keeping soft edges.
///
/// Each pixel is composited onto white. If its smallest channel is at least
/// [`WHITE_HI`] it is background and becomes transparent (all zeros). Otherwise it
/// is read as ink of level `ink` (see [`ink_level`]) partly covering white paper:
/// its alpha is the coverage `(255 - min) / (255 - ink)` (opaque for pixels at least
/// as dark as the ink) and its colour is un-mixed from white, so that composited
/// onto white it looks as before. Anti-aliased edges thus become partly
/// transparent instead of pale fringes. Applying it twice changes almost nothing.
fn whiten(img: &mut RgbaImage, ink: u32) {
    for p in img.pixels_mut() {
        p.0 = whiten_pixel(p.0, ink);
    }
}

fn whiten_pixel(pixel: [u8; 4], ink: u32) -> [u8; 4] {
    // A transparent pixel composites to white, so it is background too.
    let (c, min) = on_white(pixel);
    if min >= WHITE_HI {
        return [0; 4];
    }
    let span = 255 - ink.min(MAX_INK_LEVEL);
    let alpha = (((255 - min) * 255 + span / 2) / span).min(255);
    if alpha == 0 {
        return [0; 4];
    }
    // c = alpha * ink_colour + (1 - alpha) * white, solved for ink_colour.
    let [r, g, b] = c.map(|v| {
        let lift = ((255 - v) * 255 + alpha / 2) / alpha;
        (255 - lift.min(255)) as u8
    });
    [r, g, b, alpha as u8]
}

/// Crops away fully transparent rows and columns; `None` if nothing is left.
fn trim(img: &RgbaImage) -> Option<RgbaImage> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    let mut any = false;
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[3] != 0 {
            any = true;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if !any {
        return None;
    }
    if (x0, y0, x1 + 1, y1 + 1) == (0, 0, img.width(), img.height()) {
        return Some(img.clone());
    }
    Some(imageops::crop_imm(img, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image())
}

/// Resizes with Lanczos3 on premultiplied alpha (no dark or light fringes), then
/// cleans up and trims again.
fn rescale(img: &RgbaImage, width: u32, height: u32, ink: u32) -> Result<RgbaImage, SealError> {
    let mut pre = img.clone();
    for p in pre.pixels_mut() {
        let [r, g, b, a] = p.0;
        let premul = |c: u8| ((u32::from(c) * u32::from(a) + 127) / 255) as u8;
        p.0 = [premul(r), premul(g), premul(b), a];
    }
    let mut out = imageops::resize(&pre, width, height, FilterType::Lanczos3);
    for p in out.pixels_mut() {
        let [r, g, b, a] = p.0;
        p.0 = if a == 0 {
            [0; 4]
        } else {
            let a32 = u32::from(a);
            let unpremul = |c: u8| ((u32::from(c) * 255 + a32 / 2) / a32).min(255) as u8;
            [unpremul(r), unpremul(g), unpremul(b), a]
        };
    }
    whiten(&mut out, ink);
    trim(&out).ok_or(SealError::ImageEmpty)
}

fn encode_png(img: &RgbaImage) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, PngFilter::Adaptive)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgba8,
        )
        .map_err(|e| SealError::ImageTooLarge(format!("cannot encode the PNG: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(mm_to_px(40), 472);
        assert_eq!(mm_to_px(100), 1181);
        assert_eq!(mm_to_px(10), 118);
        assert_eq!(fit(100, 50, 472, 472), (100, 50));
        assert_eq!(fit(1000, 500, 472, 472), (472, 236));
        assert_eq!(fit(500, 1000, 472, 236), (118, 236));
        assert_eq!(fit(4096, 1, 472, 472), (472, 1));
        assert_eq!(shrink(100), 85);
        assert_eq!(shrink(1), 1);
    }

    #[test]
    fn whitening_rules() {
        let ink = 25;
        assert_eq!(whiten_pixel([255, 255, 255, 255], ink), [0; 4]);
        assert_eq!(whiten_pixel([240, 235, 231, 255], ink), [0; 4]);
        assert_eq!(whiten_pixel([200, 0, 0, 0], ink), [0; 4]);
        assert_eq!(whiten_pixel([210, 25, 30, 255], ink), [210, 25, 30, 255]);
        assert_eq!(whiten_pixel([20, 20, 20, 255], ink), [20, 20, 20, 255]);
        // Half-covered edge pixel: half transparent, colour un-mixed back to the ink.
        let edge = whiten_pixel([233, 140, 143, 255], ink);
        assert!(edge[3].abs_diff(128) <= 1, "{edge:?}");
        assert!(
            edge[0].abs_diff(210) <= 2 && edge[1].abs_diff(25) <= 2,
            "{edge:?}"
        );
        // Idempotent on its own output.
        let again = whiten_pixel(edge, ink);
        assert!(again[3].abs_diff(edge[3]) <= 1, "{again:?} {edge:?}");
        // Faint black over white is background once composited.
        assert_eq!(whiten_pixel([0, 0, 0, 20], ink), [0; 4]);
        assert_eq!(whiten_pixel([0, 0, 0, 60], 0), [0, 0, 0, 60]);
    }

    #[test]
    fn ink_level_is_the_median_of_the_non_background() {
        let mut img = RgbaImage::from_pixel(10, 10, ::image::Rgba([255, 255, 255, 255]));
        for x in 0..10 {
            img.put_pixel(x, 0, ::image::Rgba([200, 30, 30, 255]));
            img.put_pixel(x, 1, ::image::Rgba([200, 30, 30, 255]));
            img.put_pixel(x, 2, ::image::Rgba([230, 150, 150, 255]));
        }
        assert_eq!(ink_level(&img), 30 + INK_TOLERANCE);
        let pale = RgbaImage::from_pixel(4, 4, ::image::Rgba([220, 200, 200, 255]));
        assert_eq!(ink_level(&pale), MAX_INK_LEVEL);
        assert_eq!(ink_level(&RgbaImage::new(3, 3)), 0);
    }
}
