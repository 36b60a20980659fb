//! Still images (JPEG, PNG, WebP, BMP): a stream of exactly one frame.
//! TIFFs, and images with world files, are rasters ([`super::raster`]).

use std::path::{Path, PathBuf};

use super::telemetry::{Placed, Placer};
use super::{InputKind, OpenOptions, Source, SourceError, SourceInfo};
use crate::frame::{Frame, FrameMeta};

pub struct StillSource {
    info: SourceInfo,
    path: PathBuf,
    source_id: usize,
    done: bool,
    /// Places the image from its EXIF/XMP (a DJI still), when it has them.
    placer: Placer,
}

impl StillSource {
    /// Reads the header, refuses images larger than the decoder's limits,
    /// and checks that a JPEG or PNG is whole ([`check_complete`]); pixels
    /// are decoded by `next_frame`.
    pub fn open(
        path: &Path,
        source_id: usize,
        options: &OpenOptions,
    ) -> Result<StillSource, SourceError> {
        let reader = image::ImageReader::open(path)
            .map_err(|source| SourceError::Io {
                path: path.to_owned(),
                source,
            })?
            .with_guessed_format()
            .map_err(|source| SourceError::Io {
                path: path.to_owned(),
                source,
            })?;
        let Some(format) = reader.format() else {
            return Err(SourceError::NotMedia {
                path: path.to_owned(),
                message: "unrecognised image format".into(),
            });
        };
        let (width, height) = check_size(path, reader)?;
        check_complete(path, format)?;
        let info = SourceInfo {
            uri: path.display().to_string(),
            kind: InputKind::Image,
            width,
            height,
            fps: None,
            frames_hint: Some(1),
            duration_s: None,
            codec: None,
            raster: None,
            telemetry: None,
        };
        let placer = Placer::for_still(path, options.telemetry.as_deref(), &options.geo)?;
        let info = SourceInfo {
            telemetry: serde_json::to_value(&placer.info).ok(),
            ..info
        };
        Ok(StillSource {
            info,
            path: path.to_owned(),
            source_id,
            done: false,
            placer,
        })
    }
}

impl Source for StillSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        let image = image::ImageReader::open(&self.path)
            .map_err(|source| SourceError::Io {
                path: self.path.clone(),
                source,
            })?
            .with_guessed_format()
            .map_err(|source| SourceError::Io {
                path: self.path.clone(),
                source,
            })?
            .decode()
            .map_err(|e| SourceError::Image {
                path: self.path.clone(),
                message: super::one_line(&e.to_string()),
            })?
            .into_rgb8();
        let Placed {
            ground,
            unplaced,
            gsd_m_per_px,
        } = self
            .placer
            .place_frame(None, None, image.width(), image.height());
        let meta = FrameMeta {
            source_id: self.source_id,
            seq: 0,
            frame_index: 0,
            pts_s: None,
            width: image.width(),
            height: image.height(),
            gsd_m_per_px,
            ground,
            unplaced,
            probe: false,
        };
        Ok(Some(Frame::whole(meta, image)))
    }
}

/// The image's dimensions from its header, refused (before any pixel is
/// decoded) when decoding would allocate more than the `image` crate's
/// default limits allow; the error gives the declared size and the limit.
fn check_size<R: std::io::BufRead + std::io::Seek>(
    path: &Path,
    mut reader: image::ImageReader<R>,
) -> Result<(u32, u32), SourceError> {
    let image_error = |e: image::ImageError| SourceError::Image {
        path: path.to_owned(),
        message: super::one_line(&e.to_string()),
    };
    let limits = image::Limits::default();
    // The header is read without limits, so that the decoder cannot refuse
    // before the size is known; the limits are applied here instead.
    reader.no_limits();
    let decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    // Pixels are converted to 8-bit RGB after decoding, so both the
    // decoder's buffer and the RGB copy have to fit.
    let needed = image::ImageDecoder::total_bytes(&decoder).max(3 * width as u64 * height as u64);
    let too_large = |limit: String| SourceError::TooLarge {
        path: path.to_owned(),
        width,
        height,
        needed: format!("{} decoded", human_bytes(needed)),
        limit,
    };
    if let Some(max) = limits.max_alloc {
        if needed > max {
            return Err(too_large(human_bytes(max)));
        }
    }
    if let Err(e) = limits.check_dimensions(width, height) {
        return Err(too_large(e.to_string()));
    }
    Ok((width, height))
}

/// Bytes in binary units with one decimal ("512.0 MiB").
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Refuses a JPEG or PNG that ends before its image does. Decoders fill
/// the missing part of a cut JPEG with grey and report success, and that
/// grey would be screened as if it were ground; other formats are left to
/// their decoders.
fn check_complete(path: &Path, format: image::ImageFormat) -> Result<(), SourceError> {
    let check: fn(&[u8]) -> Result<(), String> = match format {
        image::ImageFormat::Jpeg => jpeg_complete,
        image::ImageFormat::Png => png_complete,
        _ => return Ok(()),
    };
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_owned(),
        source,
    })?;
    check(&bytes).map_err(|detail| SourceError::Truncated {
        path: path.to_owned(),
        detail,
    })
}

/// Walks a JPEG's segments to the end-of-image (EOI) marker of the main
/// image, or says where the file stops short of it.
///
/// After SOI come marker segments, each with a two-byte length that counts
/// itself; a segment's contents (an EXIF thumbnail in APP1, with its own
/// SOI and EOI, included) are skipped whole. A start-of-scan (SOS) header
/// is followed by entropy-coded data, in which 0xFF00 is a stuffed 0xFF
/// byte and 0xFFD0-D7 are restart markers; any other marker ends the scan.
/// Progressive JPEGs repeat SOS (with DHT and other segments between
/// scans), which the same loop handles. Bytes that are not a marker where
/// one is due are skipped, as decoders do.
fn jpeg_complete(data: &[u8]) -> Result<(), String> {
    const SOI: u8 = 0xD8;
    const EOI: u8 = 0xD9;
    const SOS: u8 = 0xDA;
    const TEM: u8 = 0x01;
    if data.len() < 2 || data[0] != 0xFF || data[1] != SOI {
        // Not a JPEG after all; the decoder will say so.
        return Ok(());
    }
    let cut = |what: &str| {
        Err(format!(
            "the file ends at byte {} {what}, before the JPEG's end-of-image marker",
            data.len()
        ))
    };
    let mut pos = 2;
    loop {
        // Find the next marker: 0xFF, any fill 0xFFs, then the code.
        while pos < data.len() && data[pos] != 0xFF {
            pos += 1;
        }
        while pos < data.len() && data[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return cut("between segments");
        };
        pos += 1;
        match marker {
            EOI => return Ok(()),
            SOI | TEM | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = data.get(pos..pos + 2) else {
            return cut("inside a segment header");
        };
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        if len < 2 {
            return Err(format!(
                "segment 0xFF{marker:02X} at byte {} has an impossible length {len}",
                pos - 2
            ));
        }
        pos += len;
        if pos > data.len() {
            return cut(&format!("inside segment 0xFF{marker:02X}"));
        }
        if marker == SOS {
            pos = match skip_entropy_coded(data, pos) {
                Some(next) => next,
                None => return cut("inside its image data"),
            };
        }
    }
}

/// From `pos` inside a scan's entropy-coded data, the position of the
/// marker (its 0xFF) that ends the scan, or `None` if the file ends first.
fn skip_entropy_coded(data: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let at = pos + data.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        match *data.get(at + 1)? {
            // Stuffed zero and restart markers belong to the scan.
            0x00 | 0xD0..=0xD7 => pos = at + 2,
            // Fill bytes: the marker code comes later.
            0xFF => pos = at + 1,
            _ => return Some(at),
        }
    }
}

/// Walks a PNG's chunks (length, type, data, CRC) to IEND, or says where
/// the file stops short of it.
fn png_complete(data: &[u8]) -> Result<(), String> {
    const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
    if !data.starts_with(SIGNATURE) {
        return Ok(());
    }
    let mut pos = SIGNATURE.len();
    while let Some(header) = data.get(pos..pos + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        let end = pos.saturating_add(12).saturating_add(len);
        if end > data.len() {
            return Err(format!(
                "the file ends at byte {} inside its {} chunk, before IEND",
                data.len(),
                String::from_utf8_lossy(kind)
            ));
        }
        if kind == b"IEND" {
            return Ok(());
        }
        pos = end;
    }
    Err(format!(
        "the file ends at byte {} between chunks, before IEND",
        data.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, (x ^ y) as u8]))
            .write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        out
    }

    #[test]
    fn whole_jpeg_passes_and_every_cut_fails() {
        let data = jpeg(64, 48);
        assert_eq!(jpeg_complete(&data), Ok(()));
        for cut in [3, 20, data.len() / 2, data.len() - 2, data.len() - 1] {
            let e = jpeg_complete(&data[..cut]).unwrap_err();
            assert!(e.contains(&format!("byte {cut}")), "{cut}: {e}");
        }
        // Bytes after EOI do not matter.
        let mut padded = data.clone();
        padded.extend_from_slice(b"trailing");
        assert_eq!(jpeg_complete(&padded), Ok(()));
    }

    #[test]
    fn jpeg_with_a_thumbnail_in_app1_needs_its_own_eoi() {
        // An APP1 segment holding a whole JPEG (SOI ... EOI), as EXIF
        // thumbnails are, inserted after the main image's SOI.
        let thumb = jpeg(8, 8);
        let main = jpeg(32, 32);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((thumb.len() + 8) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&thumb);
        let mut data = main[..2].to_vec();
        data.extend_from_slice(&app1);
        data.extend_from_slice(&main[2..]);
        assert_eq!(jpeg_complete(&data), Ok(()));
        // Cut just after the thumbnail's EOI: the main image is incomplete.
        let cut = 2 + app1.len() + 10;
        assert!(jpeg_complete(&data[..cut]).is_err());
    }

    #[test]
    fn progressive_style_scans_and_restart_markers_are_walked() {
        // SOI, DQT, SOS + data with stuffing and a restart marker, DHT,
        // a second SOS, EOI.
        let mut d = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x04, 1, 2];
        d.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0]);
        d.extend_from_slice(&[7, 0xFF, 0x00, 9, 0xFF, 0xD3, 4]);
        d.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x03, 0]);
        d.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0, 5, 0xFF, 0x00]);
        d.extend_from_slice(&[0xFF, 0xD9]);
        assert_eq!(jpeg_complete(&d), Ok(()));
        for cut in 2..d.len() {
            assert!(jpeg_complete(&d[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn png_cut_anywhere_is_truncated() {
        let mut data = Vec::new();
        image::RgbImage::from_pixel(16, 16, image::Rgb([1, 2, 3]))
            .write_to(
                &mut std::io::Cursor::new(&mut data),
                image::ImageFormat::Png,
            )
            .unwrap();
        assert_eq!(png_complete(&data), Ok(()));
        for cut in [8, 20, data.len() / 2, data.len() - 1] {
            let e = png_complete(&data[..cut]).unwrap_err();
            assert!(e.contains("before IEND"), "{cut}: {e}");
        }
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(512 * 1024 * 1024), "512.0 MiB");
    }
}
