//! Raster benchmarks' helpers, for `scripts/bench.sh`:
//!
//! - `scene OUT.tif SIZE`: a SIZE x SIZE RGB GeoTIFF (UTM, 0.5 m pixels,
//!   tiled, DEFLATE) of sea with frames of the sample sortie pasted over it
//!   at half size, so the demo model has real work in every window;
//! - `sparse OUT.tif SIZE`: the same size of GeoTIFF, nodata except for a
//!   3000 x 3000 block of such scene in the middle; its empty blocks are
//!   never written (SPARSE_OK), so a 30,000 px scene is a few MB on disk;
//! - `model RASTER MODEL [THREADS [WORKERS]]`: reading and preprocessing
//!   every window on one thread (`read_only_tiles_per_s`), then the model
//!   alone on the first 64 windows with data, preprocessed beforehand, one
//!   window per call on each inference worker's own copy at once, as
//!   `lookout screen` runs by default (`model_only_tiles_per_s`), with the
//!   processor time per window of each (`read_cpu_ms`, `tile_model_cpu_ms`).
//!
//! Usage: `cargo bench --bench raster -- COMMAND ARGS...`.

mod common;

use std::path::Path;
use std::time::Instant;

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::DriverManager;
use image::RgbImage;
use lookout::detect::family::PostProcess;
use lookout::detect::onnx::{OnnxConfig, OnnxDetector};
use lookout::detect::tile::Tiling;
use lookout::detect::Detector;
use lookout::source::raster::{RasterOptions, RasterSource};
use lookout::source::{self, Input, InputKind, OpenOptions, Sampling, Source};

const CLIP: &str = "tests/data/sample-sortie.mp4";

/// Frames 20 (a port) and 120 (a crowded vessel) of the sample sortie at
/// half size.
fn sortie_frames() -> Vec<RgbImage> {
    let input = Input {
        path: CLIP.into(),
        kind: InputKind::Video,
    };
    let options = OpenOptions {
        sampling: Sampling::default(),
        decode_threads: 1,
        raster: RasterOptions {
            config: Default::default(),
            tiling: Tiling::with_size(640),
        },
        telemetry: None,
        geo: Default::default(),
        feedback: None,
        probe_for: None,
    };
    let mut src = source::open(&input, 0, &options).expect("opening the sample sortie");
    let mut out = Vec::new();
    while let Some(f) = src.next_frame().expect("decoding the sample sortie") {
        if [20, 120].contains(&f.meta.frame_index) {
            out.push(image::imageops::resize(
                f.image.as_ref(),
                f.image.width() / 2,
                f.image.height() / 2,
                image::imageops::FilterType::Triangle,
            ));
        }
    }
    out
}

/// Sea with a little noise and the frames pasted on a grid, for the
/// region `x0..x0+w`, `y0..y0+h` of the scene.
fn paint(frames: &[RgbImage], x0: u32, y0: u32, w: u32, h: u32) -> RgbImage {
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x + x0, y + y0);
        let n = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663))
            .wrapping_mul(2_654_435_761)
            >> 28) as u8;
        image::Rgb([30 + n, 56 + n, 74 + n])
    });
    // Frames every 1000 x 600 pixels of the scene, alternating.
    let (pw, ph) = (1000u32, 600u32);
    for gy in (y0 / ph)..=((y0 + h) / ph) {
        for gx in (x0 / pw)..=((x0 + w) / pw) {
            let f = &frames[((gx + gy) % frames.len() as u32) as usize];
            let (fx, fy) = (gx * pw + 150, gy * ph + 100);
            image::imageops::replace(&mut img, f, fx as i64 - x0 as i64, fy as i64 - y0 as i64);
        }
    }
    img
}

fn write_region(ds: &gdal::Dataset, img: &RgbImage, x: u32, y: u32) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    for c in 0..3 {
        let plane: Vec<u8> = img.pixels().map(|p| p.0[c]).collect();
        let mut band = ds.rasterband(c + 1).expect("band");
        let mut buf = Buffer::new((w, h), plane);
        band.write((x as isize, y as isize), (w, h), &mut buf)
            .expect("writing the raster");
    }
}

fn create(path: &Path, size: u32, sparse: bool) -> gdal::Dataset {
    let driver = DriverManager::get_driver_by_name("GTiff").expect("GDAL's GTiff driver");
    let mut options: Vec<&str> = vec!["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"];
    if sparse {
        options.push("SPARSE_OK=TRUE");
    }
    let options: RasterCreationOptions = options.into_iter().collect();
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(
            path,
            size as usize,
            size as usize,
            3,
            &options,
        )
        .expect("creating the raster");
    ds.set_geo_transform(&[500_000.0, 0.5, 0.0, 4_650_000.0, 0.0, -0.5])
        .expect("geotransform");
    ds.set_spatial_ref(&SpatialRef::from_epsg(32633).expect("EPSG:32633"))
        .expect("CRS");
    if sparse {
        for b in 1..=3 {
            ds.rasterband(b)
                .expect("band")
                .set_no_data_value(Some(0.0))
                .expect("nodata");
        }
    }
    ds
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| -> &str {
        args.get(i).map(String::as_str).unwrap_or_else(|| {
            eprintln!("usage: cargo bench --bench raster -- scene|sparse OUT.tif SIZE | model RASTER MODEL [THREADS [WORKERS]]");
            std::process::exit(2)
        })
    };
    match arg(0) {
        "scene" => {
            let size: u32 = arg(2).parse().expect("SIZE in pixels");
            let frames = sortie_frames();
            let ds = create(Path::new(arg(1)), size, false);
            // Strips of 512 rows keep memory small whatever the size.
            for y in (0..size).step_by(512) {
                let h = 512.min(size - y);
                write_region(&ds, &paint(&frames, 0, y, size, h), 0, y);
            }
        }
        "sparse" => {
            let size: u32 = arg(2).parse().expect("SIZE in pixels");
            let frames = sortie_frames();
            let ds = create(Path::new(arg(1)), size, true);
            let block = 3000.min(size);
            let at = (size - block) / 2;
            for y in (0..block).step_by(500) {
                let h = 500.min(block - y);
                write_region(&ds, &paint(&frames, at, at + y, block, h), at, at + y);
            }
        }
        "model" => {
            let (workers, threads) = common::layout(
                args.get(3).and_then(|t| t.parse().ok()).unwrap_or(0),
                args.get(4).and_then(|t| t.parse().ok()),
            );
            let mut config = OnnxConfig::new(arg(2));
            config.threads = threads;
            config.post = PostProcess {
                conf: 0.3,
                iou: 0.5,
                max_det: 300,
            };
            let spec = OnnxDetector::load(&config)
                .expect("loading the model")
                .preprocess()
                .clone();
            let options = RasterOptions {
                config: Default::default(),
                tiling: Tiling::with_size(spec.input_w.max(spec.input_h)),
            };
            // Reading and preprocessing alone, on this one thread: every
            // window of the scene, keeping the first 64 for the model.
            let t0 = Instant::now();
            let cpu0 = common::cpu_seconds();
            let mut src =
                RasterSource::open(Path::new(arg(1)), 0, &options).expect("opening the raster");
            let mut tensors = Vec::new();
            let mut read = 0u64;
            while let Some(f) = src.next_frame().expect("reading the raster") {
                let t = spec.run(&f.image);
                if tensors.len() < 64 {
                    tensors.push(t);
                }
                read += 1;
            }
            let read_rate = read as f64 / t0.elapsed().as_secs_f64();
            let read_cpu = (common::cpu_seconds() - cpu0) / read as f64;
            println!("read_only_tiles_per_s {read_rate:.2}");
            println!("read_cpu_ms {:.3}", read_cpu * 1e3);
            assert!(!tensors.is_empty(), "the raster has no data");
            let (rate, cpu) = common::model_alone(&config, workers, &tensors, 128);
            println!("model_only_tiles_per_s {rate:.2}");
            println!("tile_model_cpu_ms {:.3}", cpu * 1e3);
            println!(
                "cores {}",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
        }
        other => {
            eprintln!("unknown command {other:?}");
            std::process::exit(2);
        }
    }
}
