//! Satellite and aerial rasters through GDAL: GeoTIFF and Cloud-Optimised
//! GeoTIFF, NITF, JPEG 2000, and PNG/JPEG with world files.
//!
//! A scene can be 40,000 pixels on a side, so it is never read whole. The
//! source cuts it into overlapping windows of the tile size (the model's
//! input by default) and reads one window at a time with GDAL's windowed
//! `RasterIO`; at most the pipeline's channel capacity of windows is in
//! memory at once, and GDAL's block cache is capped (`[raster] cache_mb`).
//! Each window travels as a [`Frame`] with [`Frame::window`] set; the
//! pipeline merges the windows' detections back into one scene.
//!
//! **Bands.** `[raster] bands` (or `--bands 3,2,1`) picks three bands for
//! red, green and blue, or one for grey. By default the bands GDAL labels
//! red, green and blue are used, else the first three, else the first.
//!
//! **Bit depth.** 8-bit bands are used as they are. Deeper bands (16-bit
//! and up, and floats) are stretched linearly between per-band percentiles
//! (`[raster] stretch`, default 2 and 98), computed from the coarsest
//! overview of at least 512 pixels when the file has overviews, else from
//! a grid of small windows spread over the scene; never from a full read.
//!
//! **Nodata.** GDAL's mask (a nodata value, an alpha band or an internal
//! mask) decides which pixels are valid. Windows without one valid pixel
//! are skipped without inference, and counted; invalid pixels inside a
//! window are painted neutral grey (114, the letterbox colour detectors
//! treat as background).
//!
//! **Georeferencing.** The geotransform and CRS become a [`Georef`]; a
//! raster with a geotransform but no CRS can be given one with `[raster]
//! crs`. Rasters placed only by ground control points or RPCs (common in
//! raw NITF) are screened in pixels; their positions are not computed.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

use gdal::errors::GdalError;
use gdal::raster::{ColorInterpretation, GdalDataType, ResampleAlg};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{InputKind, Source, SourceError, SourceInfo};
use crate::detect::tile::{self, Tiling};
use crate::frame::{BandPlan, Frame, FrameMeta, Scene, Window};
use crate::geo::Georef;

/// Painted over invalid (nodata) pixels inside a window that has data.
const NODATA_FILL: u8 = 114;

/// The `[raster]` section of `lookout.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RasterConfig {
    /// Bands (1-based) read as red, green, blue, or one band read as grey.
    /// Unset: the bands labelled red, green and blue, else 1,2,3, else 1.
    pub bands: Option<Vec<usize>>,
    /// Low and high percentiles that rasters deeper than 8 bits are
    /// stretched between.
    pub stretch: [f64; 2],
    /// CRS assumed for rasters that have a geotransform but no CRS, e.g.
    /// "EPSG:32633".
    pub crs: Option<String>,
    /// GDAL's block cache in MiB (ignored when GDAL_CACHEMAX is set).
    pub cache_mb: u32,
}

impl Default for RasterConfig {
    fn default() -> Self {
        RasterConfig {
            bands: None,
            stretch: [2.0, 98.0],
            crs: None,
            cache_mb: 256,
        }
    }
}

/// A `[raster]` setting out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RasterConfigError {
    #[error("raster.bands must be one or three 1-based band numbers, got {0:?}")]
    Bands(Vec<usize>),
    #[error(
        "raster.stretch must be two percentiles with 0 <= low < high <= 100, got [{low}, {high}]"
    )]
    Stretch { low: f64, high: f64 },
}

impl RasterConfig {
    /// Checks what can be checked without a file.
    pub fn validate(&self) -> Result<(), RasterConfigError> {
        if let Some(b) = &self.bands {
            if !(b.len() == 1 || b.len() == 3) || b.contains(&0) {
                return Err(RasterConfigError::Bands(b.clone()));
            }
        }
        let [low, high] = self.stretch;
        if !((0.0..100.0).contains(&low) && low < high && high <= 100.0) {
            return Err(RasterConfigError::Stretch { low, high });
        }
        Ok(())
    }
}

/// How a raster source reads its scene.
#[derive(Debug, Clone, PartialEq)]
pub struct RasterOptions {
    pub config: RasterConfig,
    /// Window size and overlap, and whether to add a low-resolution pass
    /// over the whole scene (`full_frame`).
    pub tiling: Tiling,
}

/// Reading a scene's pixels needs GDAL, so it lives here beside the
/// source; the scene itself is plain data in [`crate::frame`].
impl Scene {
    /// Reads scene pixels `x, y, width, height` into an image of `out`
    /// pixels (smaller than the region to read it reduced). Nodata pixels
    /// come back grey.
    pub fn read(&self, region: Window, out: (u32, u32)) -> Result<RgbImage, SourceError> {
        let ds = open_dataset(&self.path)?;
        read_rgb(&ds, self, region, out)
            .map(|(img, _)| img)
            .map_err(|e| self.error(0, e))
    }

    /// A failed read, after `windows` windows were read.
    fn error(&self, windows: u64, e: GdalError) -> SourceError {
        SourceError::DamagedRaster {
            path: self.path.clone(),
            message: format!("{} (after {windows} window(s) were read)", gdal_reason(&e)),
        }
    }
}

static GDAL_INIT: Once = Once::new();

/// Routes GDAL's messages to the log (errors come back in results as
/// well) and caps its block cache.
fn init_gdal(cache_mb: u32) {
    GDAL_INIT.call_once(|| {
        gdal::config::set_error_handler(|class, code, message| {
            tracing::debug!(target: "gdal", ?class, code, "{message}");
        });
        if std::env::var_os("GDAL_CACHEMAX").is_none() {
            let _ = gdal::config::set_config_option("GDAL_CACHEMAX", &cache_mb.to_string());
        }
    });
}

/// Opens a raster read-only, asking GDAL to say why when it cannot. A
/// file that starts like a TIFF but does not open is damaged; anything
/// else is not a raster GDAL can read (an empty file, text, a video).
fn open_dataset(path: &Path) -> Result<Dataset, SourceError> {
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_READONLY
            | GdalOpenFlags::GDAL_OF_RASTER
            | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
        ..Default::default()
    };
    Dataset::open_ex(path, options).map_err(|e| {
        let reason = gdal_reason(&e);
        match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => SourceError::NotRaster {
                path: path.to_owned(),
                reason: "the file is empty".into(),
            },
            Err(source) => SourceError::Io {
                path: path.to_owned(),
                source,
            },
            Ok(_) if starts_like_tiff(path) => SourceError::DamagedRaster {
                path: path.to_owned(),
                message: reason,
            },
            Ok(_) => SourceError::NotRaster {
                path: path.to_owned(),
                reason,
            },
        }
    })
}

/// Whether the file begins with a TIFF or BigTIFF signature.
fn starts_like_tiff(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && matches!(&magic, b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+")
}

/// GDAL's own words for an error, on one line (the NITF driver wraps its
/// messages): the message of a CPL error or a failed call without the
/// wrapper's class and number, or, when GDAL gave none, a plain statement
/// of what failed.
fn gdal_reason(e: &GdalError) -> String {
    match e {
        GdalError::CplError { msg, .. } | GdalError::NullPointer { msg, .. }
            if !msg.trim().is_empty() =>
        {
            super::one_line(msg)
        }
        GdalError::NullPointer { .. } => "no GDAL driver recognises it".into(),
        other => other.to_string(),
    }
}

/// Refuses a GeoTIFF whose pixel blocks do not all lie inside the file, as
/// when it was cut short in a copy. GDAL opens such a file from its header
/// and fails only on reading the missing blocks, so without this check a
/// truncated scene would be screened up to the cut. Blocks are located
/// through the GTiff driver's `BLOCK_OFFSET_x_y` and `BLOCK_SIZE_x_y`
/// items; other drivers, and files whose length cannot be read, pass.
fn check_tiff_blocks(ds: &Dataset, path: &Path, bands: &[usize]) -> Result<(), SourceError> {
    if ds.driver().short_name() != "GTiff" {
        return Ok(());
    }
    let Ok(file_len) = std::fs::metadata(path).map(|m| m.len()) else {
        return Ok(());
    };
    for &b in bands {
        let band = ds.rasterband(b).map_err(|e| SourceError::DamagedRaster {
            path: path.to_owned(),
            message: gdal_reason(&e),
        })?;
        if let Some((x, y, end)) = block_past_end(&band, file_len) {
            return Err(SourceError::DamagedRaster {
                path: path.to_owned(),
                message: format!(
                    "truncated: band {b}'s block ({x}, {y}) ends at byte {end}, \
                     but the file has {file_len} bytes"
                ),
            });
        }
    }
    Ok(())
}

/// The first block of `band` (its column, row, and end offset) that ends
/// after `file_len` bytes. Blocks without an offset (sparse files) are
/// absent, not missing.
fn block_past_end(band: &gdal::raster::RasterBand, file_len: u64) -> Option<(usize, usize, u64)> {
    use gdal::Metadata;
    let (w, h) = band.size();
    let (bw, bh) = band.block_size();
    if bw == 0 || bh == 0 {
        return None;
    }
    let item = |key: &str, x: usize, y: usize| -> u64 {
        band.metadata_item(&format!("{key}_{x}_{y}"), "TIFF")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    for y in 0..h.div_ceil(bh) {
        for x in 0..w.div_ceil(bw) {
            let offset = item("BLOCK_OFFSET", x, y);
            if offset == 0 {
                continue;
            }
            let end = offset.saturating_add(item("BLOCK_SIZE", x, y));
            if end > file_len {
                return Some((x, y, end));
            }
        }
    }
    None
}

/// Whether GDAL (rather than FFmpeg or the `image` crate) should read a
/// file with this lower-case extension.
pub fn is_raster_extension(ext: &str) -> bool {
    RASTER_EXTENSIONS.contains(&ext)
}

pub const RASTER_EXTENSIONS: &[&str] = &[
    "tif", "tiff", "ntf", "nitf", "nsf", "jp2", "j2k", "vrt", "img",
];

/// World files that place a PNG or JPEG on the map; such images go to GDAL.
pub fn has_world_file(path: &Path) -> bool {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return false;
    };
    let ext = ext.to_ascii_lowercase();
    let mut candidates = vec!["wld".to_owned(), format!("{ext}w")];
    if ext.len() >= 2 {
        let b = ext.as_bytes();
        candidates.push(format!("{}{}w", b[0] as char, b[ext.len() - 1] as char));
    }
    candidates.iter().any(|w| {
        path.with_extension(w).is_file() || path.with_extension(w.to_ascii_uppercase()).is_file()
    }) || {
        let mut aux = path.as_os_str().to_owned();
        aux.push(".aux.xml");
        Path::new(&aux).is_file()
    }
}

pub struct RasterSource {
    info: SourceInfo,
    ds: Dataset,
    scene: Arc<Scene>,
    meta: FrameMeta,
    plan: Vec<Window>,
    next: usize,
}

impl RasterSource {
    pub fn open(
        path: &Path,
        source_id: usize,
        options: &RasterOptions,
    ) -> Result<RasterSource, SourceError> {
        init_gdal(options.config.cache_mb);
        let ds = open_dataset(path)?;
        let fail = |message: String| SourceError::OpenRaster {
            path: path.to_owned(),
            message,
        };
        let gdal_err = |e: GdalError| fail(gdal_reason(&e));
        let damaged = |e: GdalError| SourceError::DamagedRaster {
            path: path.to_owned(),
            message: gdal_reason(&e),
        };
        let (w, h) = ds.raster_size();
        let (width, height) = (
            u32::try_from(w).map_err(|_| fail(format!("width {w} is too large")))?,
            u32::try_from(h).map_err(|_| fail(format!("height {h} is too large")))?,
        );
        let count = ds.raster_count();
        if count == 0 || width == 0 || height == 0 {
            return Err(fail("the raster has no bands or no pixels".into()));
        }

        let chosen = match &options.config.bands {
            Some(b) => {
                if let Some(bad) = b.iter().find(|&&i| i == 0 || i > count) {
                    return Err(fail(format!(
                        "band {bad} was asked for, but the raster has {count} band(s)"
                    )));
                }
                b.clone()
            }
            None => default_bands(&ds)?,
        };
        let mut distinct: Vec<usize> = Vec::new();
        for &b in &chosen {
            if !distinct.contains(&b) {
                distinct.push(b);
            }
        }
        let channel = |i: usize| {
            let b = chosen[i.min(chosen.len() - 1)];
            distinct.iter().position(|&d| d == b).expect("listed")
        };
        let channels = [channel(0), channel(1), channel(2)];
        check_tiff_blocks(&ds, path, &distinct)?;
        let mut bands = Vec::with_capacity(distinct.len());
        for &b in &distinct {
            let band = ds.rasterband(b).map_err(gdal_err)?;
            let data_type = band.band_type();
            let nodata = band.no_data_value();
            let stretch = if data_type == GdalDataType::UInt8 {
                None
            } else {
                Some(percentiles(&ds, b, nodata, options.config.stretch, (w, h)).map_err(damaged)?)
            };
            bands.push(BandPlan {
                band: b,
                data_type: data_type.name(),
                nodata,
                stretch,
            });
        }
        let masked = !ds
            .rasterband(chosen[0])
            .and_then(|b| b.mask_flags())
            .map_err(gdal_err)?
            .is_all_valid();

        let georef = georeference(&ds, path, options.config.crs.as_deref())?;
        let gsd = match &georef {
            Some(g) => match g.gsd_at(w as f64 / 2.0, h as f64 / 2.0) {
                Ok((_, _, gsd)) => Some(gsd),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "no ground sample distance: {e}");
                    None
                }
            },
            None => None,
        };

        let t = &options.tiling;
        let mut plan: Vec<Window> = tile::grid(width, height, t.size, t.overlap)
            .into_iter()
            .map(|t| Window {
                x: t.x,
                y: t.y,
                width: t.width,
                height: t.height,
                scale: 1.0,
            })
            .collect();
        if t.full_frame && (width > t.size || height > t.size) {
            plan.push(Window {
                x: 0,
                y: 0,
                width,
                height,
                scale: width.max(height) as f64 / t.size as f64,
            });
        }

        let driver = ds.driver().short_name();
        let info = SourceInfo {
            uri: path.display().to_string(),
            kind: InputKind::Raster,
            width,
            height,
            fps: None,
            frames_hint: Some(1),
            duration_s: None,
            codec: Some(driver.clone()),
            telemetry: None,
            raster: Some(json!({
                "driver": driver,
                "bands_in_file": count,
                "bands": bands,
                "channels": chosen,
                "masked": masked,
                "georef": georef.as_ref().map(Georef::describe),
                "gsd_m_per_px": gsd,
                "tile": t.size,
                "overlap": t.overlap,
                "full_frame_pass": plan.len() as u64 > plan.iter().filter(|w| w.scale == 1.0).count() as u64,
                "tiles_planned": plan.len(),
            })),
        };
        tracing::info!(
            path = %path.display(), width, height, bands = ?chosen, tiles = plan.len(),
            crs = georef.as_ref().and_then(|g| g.crs_code.clone()).unwrap_or_default(),
            "raster opened"
        );
        let scene = Arc::new(Scene {
            path: path.to_owned(),
            width,
            height,
            georef,
            bands,
            channels,
            masked,
            tiles_planned: plan.len() as u64,
            tiles_read: AtomicU64::new(0),
            tiles_nodata: AtomicU64::new(0),
        });
        let meta = FrameMeta {
            source_id,
            seq: 0,
            frame_index: 0,
            pts_s: None,
            width,
            height,
            gsd_m_per_px: gsd,
            ground: None,
            unplaced: None,
            probe: false,
        };
        Ok(RasterSource {
            info,
            ds,
            scene,
            meta,
            plan,
            next: 0,
        })
    }
}

impl Source for RasterSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        while let Some(&window) = self.plan.get(self.next) {
            self.next += 1;
            let out = (
                (window.width as f64 / window.scale).round().max(1.0) as u32,
                (window.height as f64 / window.scale).round().max(1.0) as u32,
            );
            let read = self.scene.tiles_read.load(Ordering::Relaxed);
            let (image, valid) = read_rgb(&self.ds, &self.scene, window, out).map_err(|e| {
                self.next = self.plan.len();
                self.scene.error(read, e)
            })?;
            if valid == 0 {
                self.scene.tiles_nodata.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.scene.tiles_read.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(Frame {
                meta: self.meta.clone(),
                image: Arc::new(image),
                scene: Some(self.scene.clone()),
                window: Some(window),
            }));
        }
        let s = &self.scene;
        tracing::debug!(path = %s.path.display(), tiles = %s.tile_counts(), "raster read");
        Ok(None)
    }
}

fn default_bands(ds: &Dataset) -> Result<Vec<usize>, SourceError> {
    let count = ds.raster_count();
    let interp: Vec<ColorInterpretation> = (1..=count)
        .map(|i| {
            ds.rasterband(i)
                .map(|b| b.color_interpretation())
                .unwrap_or(ColorInterpretation::Undefined)
        })
        .collect();
    let find = |c: ColorInterpretation| interp.iter().position(|i| *i == c).map(|p| p + 1);
    if let (Some(r), Some(g), Some(b)) = (
        find(ColorInterpretation::RedBand),
        find(ColorInterpretation::GreenBand),
        find(ColorInterpretation::BlueBand),
    ) {
        return Ok(vec![r, g, b]);
    }
    let data: Vec<usize> = (1..=count)
        .filter(|&i| interp[i - 1] != ColorInterpretation::AlphaBand)
        .collect();
    Ok(match data.len() {
        0 => vec![1],
        1 | 2 => vec![data[0]],
        _ => data[..3].to_vec(),
    })
}

/// The georeferencing, when the raster has a geotransform and a CRS (its
/// own, or the configured fallback).
fn georeference(
    ds: &Dataset,
    path: &Path,
    fallback_crs: Option<&str>,
) -> Result<Option<Georef>, SourceError> {
    let Ok(gt) = ds.geo_transform() else {
        tracing::info!(path = %path.display(), "no geotransform: positions stay in pixels");
        return Ok(None);
    };
    let own = ds.spatial_ref().ok().and_then(|s| s.to_wkt().ok());
    let crs = match (own, fallback_crs) {
        (Some(wkt), _) if !wkt.is_empty() => wkt,
        (_, Some(c)) => c.to_owned(),
        _ => {
            tracing::warn!(path = %path.display(), "a geotransform but no CRS: positions stay in pixels (set [raster] crs to assume one)");
            return Ok(None);
        }
    };
    Georef::new(gt, &crs)
        .map(Some)
        .map_err(|e| SourceError::OpenRaster {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// The values at the `[lo, hi]` percentiles of band `b`, from its
/// coarsest overview of at least 512 pixels a side, or from a grid of
/// small windows when it has none. Nodata and non-finite values are left
/// out.
fn percentiles(
    ds: &Dataset,
    b: usize,
    nodata: Option<f64>,
    [lo, hi]: [f64; 2],
    (w, h): (usize, usize),
) -> gdal::errors::Result<(f64, f64)> {
    let band = ds.rasterband(b)?;
    let mut sample: Vec<f32> = Vec::new();
    let mut overview = None;
    for i in 0..band.overview_count()?.max(0) as usize {
        let o = band.overview(i)?;
        let (ow, oh) = o.size();
        if ow.max(oh) >= 512
            && overview
                .as_ref()
                .is_none_or(|(_, s): &(_, usize)| ow * oh < *s)
        {
            overview = Some((i, ow * oh));
        }
    }
    if let Some((i, _)) = overview {
        let o = band.overview(i)?;
        let size = o.size();
        sample = o
            .read_as::<f32>((0, 0), size, size, None)?
            .into_shape_and_vec()
            .1;
    } else {
        // 16 x 16 windows of 64 pixels, evenly spread: about 1 M values.
        let (n, side) = (16usize, 64usize);
        let (sw, sh) = (side.min(w), side.min(h));
        for j in 0..n {
            for i in 0..n {
                let x = (w - sw) * i / (n - 1);
                let y = (h - sh) * j / (n - 1);
                let buf =
                    band.read_as::<f32>((x as isize, y as isize), (sw, sh), (sw, sh), None)?;
                sample.extend_from_slice(buf.data());
            }
        }
    }
    sample.retain(|v| v.is_finite() && nodata.is_none_or(|nd| *v as f64 != nd));
    if sample.is_empty() {
        return Ok((0.0, 255.0));
    }
    sample.sort_unstable_by(f32::total_cmp);
    let at = |p: f64| sample[((p / 100.0) * (sample.len() - 1) as f64).round() as usize] as f64;
    let (a, z) = (at(lo), at(hi));
    Ok((a, if z > a { z } else { a + 1.0 }))
}

/// Reads a region of the scene as RGB at `out` size, with the number of
/// valid pixels (0 means the region is all nodata, and the pixels were not
/// read).
fn read_rgb(
    ds: &Dataset,
    scene: &Scene,
    region: Window,
    out: (u32, u32),
) -> gdal::errors::Result<(RgbImage, u64)> {
    let pos = (region.x as isize, region.y as isize);
    let size = (region.width as usize, region.height as usize);
    let shape = (out.0 as usize, out.1 as usize);
    let n = shape.0 * shape.1;
    let reduced = shape != size;
    let resample = reduced.then_some(ResampleAlg::Average);

    let mask = if scene.masked {
        let band = ds.rasterband(scene.bands[scene.channels[0]].band)?;
        let mask = band.open_mask_band()?;
        let m = mask
            .read_as::<u8>(pos, size, shape, None)?
            .into_shape_and_vec()
            .1;
        Some(m)
    } else {
        None
    };
    let valid = mask
        .as_ref()
        .map_or(n as u64, |m| m.iter().filter(|&&v| v != 0).count() as u64);
    if valid == 0 {
        return Ok((RgbImage::new(0, 0), 0));
    }

    if scene.bands.iter().all(|b| b.stretch.is_none()) {
        // 8-bit bands: one interleaved read straight into RGB.
        let band_map: Vec<i32> = scene
            .channels
            .iter()
            .map(|&c| scene.bands[c].band as i32)
            .collect();
        let mut rgb = vec![0u8; n * 3];
        read_interleaved(ds, pos, size, shape, &band_map, &mut rgb, resample)?;
        if let Some(m) = &mask {
            for (px, &valid) in rgb.chunks_exact_mut(3).zip(m) {
                if valid == 0 {
                    px.fill(NODATA_FILL);
                }
            }
        }
        let image = RgbImage::from_raw(out.0, out.1, rgb).expect("buffer matches the size");
        return Ok((image, valid));
    }
    let mut planes: Vec<Vec<u8>> = Vec::with_capacity(scene.bands.len());
    for plan in &scene.bands {
        let band = ds.rasterband(plan.band)?;
        let plane = match plan.stretch {
            None => {
                band.read_as::<u8>(pos, size, shape, resample)?
                    .into_shape_and_vec()
                    .1
            }
            Some((lo, hi)) => {
                let k = 255.0 / (hi - lo);
                band.read_as::<f32>(pos, size, shape, resample)?
                    .data()
                    .iter()
                    .map(|&v| ((v as f64 - lo) * k).round().clamp(0.0, 255.0) as u8)
                    .collect()
            }
        };
        planes.push(plane);
    }
    let mut rgb = vec![0u8; n * 3];
    for (i, px) in rgb.chunks_exact_mut(3).enumerate() {
        if mask.as_ref().is_some_and(|m| m[i] == 0) {
            px.fill(NODATA_FILL);
        } else {
            for c in 0..3 {
                px[c] = planes[scene.channels[c]][i];
            }
        }
    }
    let image = RgbImage::from_raw(out.0, out.1, rgb).expect("buffer matches the size");
    Ok((image, valid))
}

/// `GDALDatasetRasterIOEx` into a pixel-interleaved 8-bit buffer, bands
/// in `band_map` order (a band may repeat, for grey). The `gdal` crate
/// reads one band at a time; this saves two passes and the interleaving.
fn read_interleaved(
    ds: &Dataset,
    pos: (isize, isize),
    size: (usize, usize),
    shape: (usize, usize),
    band_map: &[i32],
    out: &mut [u8],
    resample: Option<ResampleAlg>,
) -> gdal::errors::Result<()> {
    use gdal_sys::{CPLErr, GDALDataType, GDALRWFlag};
    let bands = band_map.len();
    assert_eq!(out.len(), shape.0 * shape.1 * bands);
    let mut extra = gdal_sys::GDALRasterIOExtraArg {
        nVersion: 1,
        eResampleAlg: resample.unwrap_or(ResampleAlg::NearestNeighbour).to_gdal(),
        pfnProgress: None,
        pProgressData: std::ptr::null_mut(),
        bFloatingPointWindowValidity: 0,
        dfXOff: 0.0,
        dfYOff: 0.0,
        dfXSize: 0.0,
        dfYSize: 0.0,
    };
    let int = |v: usize| {
        i32::try_from(v)
            .map_err(|_| gdal::errors::GdalError::BadArgument(format!("{v} is too large")))
    };
    let mut band_map = band_map.to_vec();
    // SAFETY: `out` holds shape.0 * shape.1 * bands bytes, laid out with
    // the pixel, line and band spacings given; the band map outlives the
    // call.
    let rv = unsafe {
        gdal_sys::GDALDatasetRasterIOEx(
            ds.c_dataset(),
            GDALRWFlag::GF_Read,
            int(pos.0 as usize)?,
            int(pos.1 as usize)?,
            int(size.0)?,
            int(size.1)?,
            out.as_mut_ptr().cast(),
            int(shape.0)?,
            int(shape.1)?,
            GDALDataType::GDT_Byte,
            bands as i32,
            band_map.as_mut_ptr(),
            bands as i64,
            (shape.0 * bands) as i64,
            1,
            &mut extra,
        )
    };
    if rv != CPLErr::CE_None {
        return Err(gdal::errors::GdalError::CplError {
            class: rv,
            number: unsafe { gdal_sys::CPLGetLastErrorNo() },
            msg: unsafe {
                std::ffi::CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg())
                    .to_string_lossy()
                    .into_owned()
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks_bands_and_percentiles() {
        let mut c = RasterConfig::default();
        assert!(c.validate().is_ok());
        c.bands = Some(vec![3, 2]);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("one or three"));
        c.bands = Some(vec![0]);
        assert!(c.validate().is_err());
        c.bands = Some(vec![4, 3, 2]);
        c.stretch = [98.0, 2.0];
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("percentiles"));
    }

    #[test]
    fn world_files_are_found_by_every_convention() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("mosaic.png");
        std::fs::write(&png, b"x").unwrap();
        assert!(!has_world_file(&png));
        for w in [
            "mosaic.pgw",
            "mosaic.pngw",
            "mosaic.wld",
            "mosaic.png.aux.xml",
        ] {
            let p = dir.path().join(w);
            std::fs::write(&p, b"1").unwrap();
            assert!(has_world_file(&png), "{w}");
            std::fs::remove_file(&p).unwrap();
        }
    }
}
