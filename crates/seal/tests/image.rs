//! Seal picture normalisation: formats, background removal, trimming, scaling,
//! size budget and the refusals.

use std::io::Cursor;

use certkey_seal::{normalise, sniff, ImageLimits, NormalisedImage};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, RgbaImage};

/// A red ring (outer radius `r`, 0.12·r thick, anti-aliased) centred on a white
/// canvas of `w`×`h`.
fn ring(w: u32, h: u32, r: f32) -> RgbImage {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let thickness = r * 0.12;
    RgbImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
        // Coverage of the band [r - thickness, r], with a one-pixel soft edge.
        let outer = (r - d + 0.5).clamp(0.0, 1.0);
        let inner = (d - (r - thickness) + 0.5).clamp(0.0, 1.0);
        let cov = outer.min(inner);
        let mix = |ink: f32| (ink * cov + 255.0 * (1.0 - cov)).round() as u8;
        Rgb([mix(210.0), mix(25.0), mix(30.0)])
    })
}

fn encode(img: RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

fn decode_png(n: &NormalisedImage) -> RgbaImage {
    assert_eq!(sniff(&n.png), Some("PNG"));
    let img = image::load_from_memory_with_format(&n.png, ImageFormat::Png)
        .unwrap()
        .into_rgba8();
    assert_eq!(img.dimensions(), (n.width_px, n.height_px));
    img
}

fn check_ring(n: &NormalisedImage, expected_side: u32, tolerance: u32) {
    let limits = ImageLimits::default();
    assert!(
        n.png.len() <= limits.max_output_bytes,
        "{} bytes",
        n.png.len()
    );
    let img = decode_png(n);
    let (w, h) = img.dimensions();
    for side in [w, h] {
        assert!(
            side.abs_diff(expected_side) <= tolerance,
            "{w}x{h}, expected about {expected_side}"
        );
    }
    // Corners and centre are transparent background.
    for (x, y) in [
        (0, 0),
        (w - 1, 0),
        (0, h - 1),
        (w - 1, h - 1),
        (w / 2, h / 2),
    ] {
        assert_eq!(img.get_pixel(x, y).0[3], 0, "pixel {x},{y}");
    }
    // The ring is red and opaque: sample the middle of the band (0.12 of the
    // radius thick) at the top.
    let band_middle = (expected_side as f32 * 0.03).round() as u32;
    let p = img.get_pixel(w / 2, band_middle).0;
    assert!(p[3] > 200 && p[0] > 150 && p[1] < 90 && p[2] < 90, "{p:?}");
    // Borders are trimmed: every edge has a visible pixel.
    let visible = |x: u32, y: u32| img.get_pixel(x, y).0[3] > 0;
    assert!((0..w).any(|x| visible(x, 0)));
    assert!((0..w).any(|x| visible(x, h - 1)));
    assert!((0..h).any(|y| visible(0, y)));
    assert!((0..h).any(|y| visible(w - 1, y)));
    // No near-white pixel is left visible.
    for p in img.pixels() {
        let [r, g, b, a] = p.0;
        if a > 0 {
            assert!(r.min(g).min(b) < 230, "{:?}", p.0);
        }
    }
}

#[test]
fn png_jpeg_and_bmp_become_trimmed_transparent_pngs() {
    let limits = ImageLimits::default();
    for (format, name) in [
        (ImageFormat::Png, "PNG"),
        (ImageFormat::Jpeg, "JPG"),
        (ImageFormat::Bmp, "BMP"),
    ] {
        let input = encode(ring(420, 360, 150.0), format);
        assert_eq!(sniff(&input), Some(name));
        let n = normalise(&input, 40, 40, &limits).unwrap();
        // 300 px ring, smaller than 40 mm at 300 dpi (472 px): not scaled.
        check_ring(&n, 300, 4);

        // Normalising again keeps the dimensions.
        let again = normalise(&n.png, 40, 40, &limits).unwrap();
        assert_eq!(
            (again.width_px, again.height_px),
            (n.width_px, n.height_px),
            "{name}"
        );
    }
}

#[test]
fn large_picture_is_scaled_to_the_physical_size() {
    let limits = ImageLimits::default();
    let input = encode(ring(1600, 1500, 700.0), ImageFormat::Png);
    // 30 mm at 300 dpi = 354 px.
    let n = normalise(&input, 30, 30, &limits).unwrap();
    check_ring(&n, 354, 2);
    assert!(n.width_px <= 354 && n.height_px <= 354);
    let again = normalise(&n.png, 30, 30, &limits).unwrap();
    assert_eq!((again.width_px, again.height_px), (n.width_px, n.height_px));

    // 100 mm would be 1181 px: the long side is capped at 1024.
    let n = normalise(&input, 100, 100, &limits).unwrap();
    assert!(n.width_px.max(n.height_px) <= 1024);
    assert!(n.png.len() <= limits.max_output_bytes);

    // A wide seal box: the height decides.
    let n = normalise(&input, 60, 20, &limits).unwrap();
    assert!(n.height_px <= 236 && n.height_px >= 234, "{}", n.height_px);
}

#[test]
fn other_formats_are_refused() {
    let limits = ImageLimits::default();
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    for input in [
        &gif[..],
        b"",
        b"hello, world",
        b"<svg xmlns='x'/>",
        b"\x89PN",
    ] {
        let err = normalise(input, 40, 40, &limits).unwrap_err();
        assert_eq!(err.code(), "image_format", "{err}");
        assert_eq!(sniff(input), None);
    }
}

#[test]
fn corrupt_pictures_are_refused() {
    let limits = ImageLimits::default();
    let good = encode(ring(200, 200, 80.0), ImageFormat::Png);
    for cut in [8, 30, good.len() / 2] {
        let err = normalise(&good[..cut], 40, 40, &limits).unwrap_err();
        assert_eq!(err.code(), "image_corrupt", "{cut}: {err}");
    }
    let err = normalise(b"\xFF\xD8\xFF\xE0garbage", 40, 40, &limits).unwrap_err();
    assert_eq!(err.code(), "image_corrupt", "{err}");
    let err = normalise(b"BM\x00\x00", 40, 40, &limits).unwrap_err();
    assert_eq!(err.code(), "image_corrupt", "{err}");
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A tiny PNG whose header declares `w`×`h` RGBA pixels.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    // A small zlib stream of zeros: the start of a huge, highly compressible image.
    png.extend(chunk(
        b"IDAT",
        &[
            0x78, 0x9C, 0x63, 0x60, 0x18, 0x05, 0xA3, 0x60, 0x14, 0x0C, 0x00, 0x00,
        ],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn declared_dimensions_are_checked_before_decoding() {
    let limits = ImageLimits::default();
    let bomb = png_declaring(60_000, 60_000);
    assert!(bomb.len() < 100);
    let err = normalise(&bomb, 40, 40, &limits).unwrap_err();
    assert_eq!(err.code(), "image_dimensions", "{err}");
    assert!(err.to_string().contains("60000x60000"), "{err}");

    // Within the side limit but over the pixel budget.
    let tight = ImageLimits {
        max_pixels: 1_000_000,
        ..ImageLimits::default()
    };
    let err = normalise(&png_declaring(2000, 2000), 40, 40, &tight).unwrap_err();
    assert_eq!(err.code(), "image_dimensions", "{err}");

    // A BMP header declaring a huge picture.
    let mut bmp = encode(ring(16, 16, 6.0), ImageFormat::Bmp);
    bmp[18..22].copy_from_slice(&50_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&50_000i32.to_le_bytes());
    let err = normalise(&bmp, 40, 40, &limits).unwrap_err();
    assert_eq!(err.code(), "image_dimensions", "{err}");

    // A JPEG whose frame header (SOF0) declares 60000x60000.
    let mut jpeg = encode(ring(16, 16, 6.0), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    let err = normalise(&jpeg, 40, 40, &limits).unwrap_err();
    assert_eq!(err.code(), "image_dimensions", "{err}");
    assert!(err.to_string().contains("60000x60000"), "{err}");
}

#[test]
fn oversized_input_is_refused() {
    let limits = ImageLimits::default();
    let mut big = encode(ring(64, 64, 20.0), ImageFormat::Png);
    big.resize(limits.max_input_bytes + 1, 0);
    let err = normalise(&big, 40, 40, &limits).unwrap_err();
    assert_eq!(err.code(), "image_too_large", "{err}");
}

#[test]
fn all_white_is_empty() {
    let limits = ImageLimits::default();
    let white = RgbImage::from_pixel(300, 200, Rgb([255, 255, 255]));
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Bmp] {
        let err = normalise(&encode(white.clone(), format), 40, 40, &limits).unwrap_err();
        assert_eq!(err.code(), "image_empty", "{err}");
    }
    // Already transparent.
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(RgbaImage::new(50, 50))
        .write_to(&mut out, ImageFormat::Png)
        .unwrap();
    let err = normalise(out.get_ref(), 40, 40, &limits).unwrap_err();
    assert_eq!(err.code(), "image_empty", "{err}");
}

#[test]
fn seal_size_is_checked() {
    let limits = ImageLimits::default();
    let input = encode(ring(200, 200, 80.0), ImageFormat::Png);
    for (w, h) in [(5, 40), (40, 5), (9, 9), (101, 50), (0, 0)] {
        let err = normalise(&input, w, h, &limits).unwrap_err();
        assert_eq!(err.code(), "seal_size", "{w}x{h}");
    }
    assert!(normalise(&input, 10, 100, &limits).is_ok());
}

/// Deterministic noise: the worst case for PNG compression.
fn noise(w: u32, h: u32) -> RgbImage {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [a, b, c, ..] = state.to_le_bytes();
        Rgb([a % 180, b % 180, c % 180])
    })
}

#[test]
fn noisy_picture_is_shrunk_to_fit() {
    let limits = ImageLimits::default();
    let input = encode(noise(500, 500), ImageFormat::Png);
    let n = normalise(&input, 40, 40, &limits).unwrap();
    assert!(n.png.len() <= limits.max_output_bytes, "{}", n.png.len());
    // It could not stay at 472 px (40 mm at 300 dpi), but stays usable.
    assert!(n.width_px < 472 && n.width_px >= 64, "{}", n.width_px);
    assert_eq!(n.width_px, n.height_px);
    decode_png(&n);

    // Normalising again keeps the size.
    let again = normalise(&n.png, 40, 40, &limits).unwrap();
    assert_eq!((again.width_px, again.height_px), (n.width_px, n.height_px));

    // With a budget nothing can meet, it gives up.
    let tiny = ImageLimits {
        max_output_bytes: 2000,
        ..ImageLimits::default()
    };
    let err = normalise(&input, 40, 40, &tiny).unwrap_err();
    assert_eq!(err.code(), "image_too_large", "{err}");
}
