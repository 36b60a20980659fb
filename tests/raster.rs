//! Rasters through GDAL: GeoTIFFs (and NITF) made here with GDAL, holding
//! frames of the sample sortie pasted at known places, screened by the real
//! binary with the demo model.
//!
//! The sortie's frames are pasted at half size: the demo model sees a
//! 1280 x 720 frame through a 640 px input, so a half-size frame read at
//! full resolution in 640 px windows looks to it exactly as the video does.

use std::path::Path;
use std::process::Command;

use gdal::raster::{Buffer, GdalType, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::DriverManager;
use image::RgbImage;
use serde_json::Value;

use crate::util::*;

/// Frame `index` of the sample sortie, at half size, and its labelled
/// boxes `(category, [x1, y1, x2, y2])` at that size.
fn sortie_frame(index: u64) -> (RgbImage, Vec<(String, [f64; 4])>) {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("frame.png");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args(["-vf", &format!("select=eq(n\\,{index}),scale=640:360")])
        .args(["-frames:v", "1"])
        .arg(&png)
        .status()
        .expect("running ffmpeg");
    assert!(status.success());
    let image = image::open(&png).unwrap().into_rgb8();
    let coco = read_json(&data("sample-sortie.coco.json"));
    let names: std::collections::HashMap<u64, String> = coco["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_u64().unwrap(), c["name"].as_str().unwrap().to_owned()))
        .collect();
    let image_id = coco["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["frame_index"] == index)
        .unwrap()["id"]
        .clone();
    let boxes = coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["image_id"] == image_id)
        .map(|a| {
            let b: Vec<f64> = a["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() / 2.0).collect();
            (
                names[&a["category_id"].as_u64().unwrap()].clone(),
                [b[0], b[1], b[0] + b[2], b[1] + b[3]],
            )
        })
        .collect();
    (image, boxes)
}

/// A scene: a sea-coloured canvas with sortie frames pasted at offsets.
struct Scene {
    image: RgbImage,
    /// Labelled boxes in scene pixels.
    boxes: Vec<(String, [f64; 4])>,
}

fn scene(width: u32, height: u32, pastes: &[(u64, u32, u32)]) -> Scene {
    let mut image = RgbImage::from_pixel(width, height, image::Rgb([38, 64, 82]));
    let mut boxes = Vec::new();
    for &(index, x, y) in pastes {
        let (frame, b) = sortie_frame(index);
        image::imageops::replace(&mut image, &frame, x as i64, y as i64);
        boxes.extend(b.into_iter().map(|(c, [x1, y1, x2, y2])| {
            (c, [x1 + x as f64, y1 + y as f64, x2 + x as f64, y2 + y as f64])
        }));
    }
    Scene { image, boxes }
}

/// Writes `bands` (row-major planes of `width` x `height`) as a raster
/// with GDAL's `driver`, placed by `geotransform` in `crs`.
fn write_raster<T: GdalType + Copy>(
    path: &Path,
    driver: &str,
    (width, height): (u32, u32),
    bands: Vec<Vec<T>>,
    geotransform: [f64; 6],
    crs: &str,
    nodata: Option<f64>,
) {
    let (w, h) = (width as usize, height as usize);
    let mem = DriverManager::get_driver_by_name("MEM").unwrap();
    let mut ds = mem
        .create_with_band_type::<T, _>("", w, h, bands.len())
        .unwrap();
    ds.set_geo_transform(&geotransform).unwrap();
    ds.set_spatial_ref(&SpatialRef::from_definition(crs).unwrap())
        .unwrap();
    for (i, plane) in bands.into_iter().enumerate() {
        let mut band = ds.rasterband(i + 1).unwrap();
        band.set_no_data_value(nodata).unwrap();
        let mut buf = Buffer::new((w, h), plane);
        band.write((0, 0), (w, h), &mut buf).unwrap();
    }
    let options: RasterCreationOptions = if driver == "GTiff" {
        ["TILED=YES", "COMPRESS=DEFLATE"].into_iter().collect()
    } else {
        RasterCreationOptions::new()
    };
    let out = DriverManager::get_driver_by_name(driver).unwrap();
    ds.create_copy(&out, path, &options).unwrap();
}

fn planes(image: &RgbImage) -> Vec<Vec<u8>> {
    (0..3)
        .map(|c| image.pixels().map(|p| p.0[c]).collect())
        .collect()
}

/// Screens `input` with the demo model; returns the run folder.
fn screen(input: &Path, out: &Path, extra: &[&str]) -> std::path::PathBuf {
    let mut args = vec!["screen", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    let o = lookout(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    run_dir(out)
}

/// `(lon, lat)` of pixel positions, by GDAL's own `gdaltransform` tool: an
/// independent path from the one lookout takes.
fn gdaltransform(raster: &Path, pixels: &[(f64, f64)]) -> Vec<(f64, f64)> {
    use std::io::Write;
    let mut child = Command::new("gdaltransform")
        .args(["-t_srs", "EPSG:4326", "-output_xy"])
        .arg(raster)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running gdaltransform (Debian's gdal-bin)");
    let mut stdin = child.stdin.take().unwrap();
    for (x, y) in pixels {
        writeln!(stdin, "{x} {y}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    // With EPSG:4326 as target, GDAL >= 3 writes latitude first unless the
    // axis order is told; -output_xy keeps x = longitude.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|s| s.parse().unwrap()).collect();
            (v[0], v[1])
        })
        .collect()
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let i = w * h;
    i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i)
}

fn features(path: &Path) -> Vec<Value> {
    read_json(path)["features"].as_array().unwrap().clone()
}

fn feature_box(f: &Value) -> [f64; 4] {
    let b: Vec<f64> = f["properties"]["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    [b[0], b[1], b[2], b[3]]
}

#[test]
fn explore() {
    let dir = tempfile::tempdir().unwrap();
    let s = scene(1600, 1200, &[(120, 302, 100), (20, 700, 640)]);
    let tif = dir.path().join("utm.tif");
    write_raster(
        &tif,
        "GTiff",
        (1600, 1200),
        planes(&s.image),
        [500_000.0, 0.5, 0.0, 4_650_000.0, 0.0, -0.5],
        "EPSG:32633",
        None,
    );
    let run = screen(&tif, &dir.path().join("runs"), &[]);
    let f = features(&run.join("detections.geojson"));
    eprintln!("{} detections", f.len());
    for (c, b) in &s.boxes {
        let best = f
            .iter()
            .filter(|x| x["properties"]["class"] == c.as_str())
            .map(|x| iou(b, &feature_box(x)))
            .fold(0.0, f64::max);
        eprintln!("{c} {b:?} best iou {best:.2}");
    }
    eprintln!("{}", std::fs::read_to_string(run.join("events.jsonl")).unwrap());
    eprintln!("{}", read_json(&run.join("run.json"))["sources"]);
    panic!("explore");
}
