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
use lookout::geo::Georef;
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
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["name"].as_str().unwrap().to_owned(),
            )
        })
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
            let b: Vec<f64> = a["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() / 2.0)
                .collect();
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

/// Sea: dark blue-green with a little deterministic noise, as imagery has.
fn sea(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let h =
            (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)).wrapping_mul(2_654_435_761);
        let n = (h >> 28) as u8; // 0..15
        image::Rgb([30 + n, 56 + n, 74 + n])
    })
}

fn scene(width: u32, height: u32, pastes: &[(u64, u32, u32)]) -> Scene {
    let mut image = sea(width, height);
    let mut boxes = Vec::new();
    for &(index, x, y) in pastes {
        let (frame, b) = sortie_frame(index);
        image::imageops::replace(&mut image, &frame, x as i64, y as i64);
        boxes.extend(b.into_iter().map(|(c, [x1, y1, x2, y2])| {
            (
                c,
                [x1 + x as f64, y1 + y as f64, x2 + x as f64, y2 + y as f64],
            )
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
    let options: RasterCreationOptions = match driver {
        "GTiff" => ["TILED=YES", "COMPRESS=DEFLATE"].into_iter().collect(),
        "JP2OpenJPEG" => ["REVERSIBLE=YES", "QUALITY=100"].into_iter().collect(),
        _ => RasterCreationOptions::new(),
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
    let mut args = vec![
        "screen",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
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

/// Frame 120 (a vessel with 18 people) and frame 20 (a port, people in an
/// open container). The vessel spans x 580..698, across the right edge
/// (640) of the first column of windows; containers sit across x 960 and
/// 1152, where the second and third columns begin and end.
const PASTES: &[(u64, u32, u32)] = &[(120, 302, 100), (20, 700, 640)];
const UTM: [f64; 6] = [500_000.0, 0.5, 0.0, 4_650_000.0, 0.0, -0.5];

/// Boxes of `class` that lie wholly inside the pasted frames (a frame's
/// edge cuts some objects, which then look like nothing in particular).
fn labelled<'a>(s: &'a Scene, class: &'a str) -> impl Iterator<Item = &'a [f64; 4]> + 'a {
    s.boxes
        .iter()
        .filter(move |(c, b)| {
            c == class
                && PASTES.iter().any(|&(_, x, y)| {
                    b[0] > x as f64 + 2.0
                        && b[1] > y as f64 + 2.0
                        && b[2] < (x + 638) as f64
                        && b[3] < (y + 358) as f64
                })
        })
        .map(|(_, b)| b)
}

/// Metres between two WGS84 positions a few metres apart.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = a.1.to_radians();
    let dx = (a.0 - b.0).to_radians() * 6_378_137.0 * lat.cos();
    let dy = (a.1 - b.1).to_radians() * 6_356_752.0;
    dx.hypot(dy)
}

/// The [`PASTES`] scene as an 8-bit RGB GeoTIFF in UTM 33N, in `dir`.
fn utm_scene(dir: &Path) -> (Scene, std::path::PathBuf) {
    let s = scene(1600, 1200, PASTES);
    let tif = dir.join("utm.tif");
    write_raster(
        &tif,
        "GTiff",
        (1600, 1200),
        planes(&s.image),
        UTM,
        "EPSG:32633",
        None,
    );
    (s, tif)
}

#[test]
fn geotiff_in_utm_puts_detections_and_events_on_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let (s, tif) = utm_scene(dir.path());
    let run = screen(&tif, &dir.path().join("runs"), &[]);

    // Both scenes' signatures fire, once each, placed on the map.
    let events = closed_events(&run);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(
        kinds.contains(&"containment") && kinds.contains(&"overcrowding"),
        "{kinds:?}"
    );
    let run_json = read_json(&run.join("run.json"));
    let source = &run_json["sources"][0];
    assert_eq!(source["kind"], "raster");
    assert_eq!(source["info"]["raster"]["georef"]["crs"], "EPSG:32633");
    // UTM's scale factor on the central meridian is 0.9996.
    let gsd = source["info"]["raster"]["gsd_m_per_px"].as_f64().unwrap();
    assert!((gsd - 0.5 / 0.9996).abs() < 1e-3, "{gsd}");
    assert_eq!(source["tiles"]["planned"], 9);

    // Every detection's position is where GDAL's own gdaltransform puts
    // the centre of its box, to well within one pixel (0.5 m).
    let features = features(&run.join("detections.geojson"));
    assert_eq!(
        features.len() as u64,
        source["detections_placed"].as_u64().unwrap()
    );
    assert!(features.len() > 50, "{}", features.len());
    let centres: Vec<(f64, f64)> = features
        .iter()
        .map(|f| {
            let b = feature_box(f);
            ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
        })
        .collect();
    let expected = gdaltransform(&tif, &centres);
    for (f, want) in features.iter().zip(&expected) {
        let p = &f["properties"];
        let got = (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap());
        assert!(metres(got, *want) < 0.05, "{got:?} vs {want:?}");
        // RFC 7946: a closed, counter-clockwise ring of [lon, lat].
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.len(), 5);
        assert_eq!(ring[0], ring[4]);
        let corner = |i: usize| (ring[i][0].as_f64().unwrap(), ring[i][1].as_f64().unwrap());
        let area: f64 = (0..4)
            .map(|i| corner(i).0 * corner(i + 1).1 - corner(i + 1).0 * corner(i).1)
            .sum();
        assert!(area > 0.0, "clockwise ring {ring:?}");
        let b = feature_box(f);
        let tl = gdaltransform(&tif, &[(b[0], b[1])])[0];
        assert!(
            metres(corner(0), tl) < 0.05,
            "top-left corner {:?} vs {tl:?}",
            corner(0)
        );
    }

    // The vessel's labelled centre lies inside the overcrowding event's
    // footprint, and the event sits within a box's size of it.
    let vessel = labelled(&s, "vessel").next().unwrap();
    let vc = gdaltransform(
        &tif,
        &[((vessel[0] + vessel[2]) / 2.0, (vessel[1] + vessel[3]) / 2.0)],
    )[0];
    let over = events.iter().find(|e| e["kind"] == "overcrowding").unwrap();
    let ring = over["geo"]["footprint"].as_array().unwrap();
    let lons: Vec<f64> = ring.iter().map(|p| p[0].as_f64().unwrap()).collect();
    let lats: Vec<f64> = ring.iter().map(|p| p[1].as_f64().unwrap()).collect();
    let within = |v: f64, vs: &[f64]| {
        vs.iter().cloned().fold(f64::MAX, f64::min) <= v
            && v <= vs.iter().cloned().fold(f64::MIN, f64::max)
    };
    assert!(
        within(vc.0, &lons) && within(vc.1, &lats),
        "{vc:?} outside {ring:?}"
    );
    let at = (
        over["geo"]["lon"].as_f64().unwrap(),
        over["geo"]["lat"].as_f64().unwrap(),
    );
    assert!(
        metres(at, vc) < 0.5 * (vessel[2] - vessel[0]) * 0.5,
        "{at:?} vs {vc:?}"
    );
    // Density comes from the ground sample distance now.
    assert!(over["best_frame"]["density_per_m2"].as_f64().unwrap() > 0.0);

    // events.geojson holds the same two events; the evidence is a crop
    // around the boxes, at full resolution, and says where it lies.
    let placed = read_json(&run.join("events.geojson"))["features"].clone();
    let placed = placed.as_array().unwrap();
    assert_eq!(placed.len(), 2);
    let crop = &over["best_frame"]["crop"];
    assert_eq!(crop["scale"], 1.0);
    let (cx, cy) = (crop["x"].as_f64().unwrap(), crop["y"].as_f64().unwrap());
    assert!(cx <= vessel[0] && cy <= vessel[1], "{crop} vs {vessel:?}");
    let frame = image::open(run.join(over["artefacts"]["frame"].as_str().unwrap())).unwrap();
    assert_eq!(
        (frame.width() as f64, frame.height() as f64),
        (
            crop["width"].as_f64().unwrap(),
            crop["height"].as_f64().unwrap()
        )
    );
    // Both GeoJSON files are in the manifest.
    let manifest = std::fs::read_to_string(run.join("manifest.jsonl")).unwrap();
    assert!(manifest.contains("\"detections.geojson\"") && manifest.contains("\"events.geojson\""));
}

#[test]
fn objects_cut_by_window_borders_come_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let (s, tif) = utm_scene(dir.path());
    let run = screen(
        &tif,
        &dir.path().join("runs"),
        &["--classes", "vessel,container"],
    );
    let features = features(&run.join("detections.geojson"));
    let boxes = |class: &str| -> Vec<[f64; 4]> {
        features
            .iter()
            .filter(|f| f["properties"]["class"] == class)
            .map(feature_box)
            .collect()
    };
    // The vessel crosses the first column's right edge: one box, whole.
    let vessel = labelled(&s, "vessel").next().unwrap();
    assert!(vessel[0] < 640.0 && vessel[2] > 640.0, "{vessel:?}");
    let hits: Vec<f64> = boxes("vessel")
        .iter()
        .map(|b| iou(vessel, b))
        .filter(|&v| v > 0.05)
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0] > 0.7, "{hits:?}");
    // Containers across x = 960 and x = 1152 (seen whole by one window,
    // cut by the other), and in the band both windows see: each is found
    // once, and no fragment is left over.
    let containers = boxes("container");
    let labels: Vec<&[f64; 4]> = labelled(&s, "container").collect();
    let across: Vec<&&[f64; 4]> = labels
        .iter()
        .filter(|b| [960.0, 1152.0].iter().any(|&e| b[0] < e && b[2] > e))
        .collect();
    assert!(across.len() >= 4, "{across:?}");
    for b in &labels {
        let n = containers.iter().filter(|c| iou(b, c) > 0.1).count();
        assert!(n <= 1, "{n} boxes on the container at {b:?}");
    }
    for b in &across {
        let best = containers.iter().map(|c| iou(b, c)).fold(0.0, f64::max);
        assert!(
            best > 0.7,
            "the container across a border at {b:?}: best IoU {best}"
        );
    }
    let strays = containers
        .iter()
        .filter(|c| labels.iter().all(|b| iou(b, c) < 0.3))
        .count();
    assert!(strays <= 2, "{strays} container boxes match no container");

    // Without merging (NMS by IoU, which cannot join a part to its whole),
    // the cut halves come back as extra boxes: the merge is doing the work.
    let config = dir.path().join("nms.toml");
    std::fs::write(
        &config,
        "[tile]\nmerge = \"nms\"\nmetric = \"iou\"\nthreshold = 0.9\n",
    )
    .unwrap();
    let run = screen(
        &tif,
        &dir.path().join("runs-nms"),
        &[
            "--classes",
            "vessel,container",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let unmerged = read_json(&run.join("run.json"))["sources"][0]["detections_placed"]
        .as_u64()
        .unwrap();
    assert!(
        unmerged > features.len() as u64,
        "{unmerged} vs {}",
        features.len()
    );
}

#[test]
fn geographic_raster_positions_are_the_geotransform_and_gsd_follows_latitude() {
    let dir = tempfile::tempdir().unwrap();
    let s = scene(1000, 800, &[(120, 180, 200)]);
    // 5e-6° pixels at 36° N: 0.45 m along a row, 0.55 m down a column.
    let gt = [23.5, 5e-6, 0.0, 36.0, 0.0, -5e-6];
    let tif = dir.path().join("wgs84.tif");
    write_raster(
        &tif,
        "GTiff",
        (1000, 800),
        planes(&s.image),
        gt,
        "EPSG:4326",
        None,
    );
    let run = screen(&tif, &dir.path().join("runs"), &[]);
    let source = &read_json(&run.join("run.json"))["sources"][0];
    let gsd = source["info"]["raster"]["gsd_m_per_px"].as_f64().unwrap();
    // sqrt of the pixel's area, from the WGS84 radii at 36° N.
    let lat = 35.999f64.to_radians();
    let w = 1.0 - 0.00669438 * lat.sin().powi(2);
    let along = 5e-6f64.to_radians() * 6_378_137.0 / w.sqrt() * lat.cos();
    let down = 5e-6f64.to_radians() * 6_378_137.0 * (1.0 - 0.00669438) / w.powf(1.5);
    assert!(
        (gsd - (along * down).sqrt()).abs() < 1e-3,
        "{gsd} vs {along} x {down}"
    );
    let features = features(&run.join("detections.geojson"));
    assert!(!features.is_empty());
    for f in &features {
        let b = feature_box(f);
        let lon = gt[0] + (b[0] + b[2]) / 2.0 * gt[1];
        let lat = gt[3] + (b[1] + b[3]) / 2.0 * gt[5];
        let p = &f["properties"];
        assert!((p["lon"].as_f64().unwrap() - lon).abs() < 1e-7, "{p}");
        assert!((p["lat"].as_f64().unwrap() - lat).abs() < 1e-7, "{p}");
    }
    let over = closed_events(&run)
        .into_iter()
        .find(|e| e["kind"] == "overcrowding")
        .unwrap();
    assert!(
        over["geo"]["lat"].as_f64().unwrap() < 36.0 && over["geo"]["lon"].as_f64().unwrap() > 23.5
    );
}

/// Rows and columns of a windows grid (as `lookout::detect::tile::grid`).
fn window_starts(extent: u32, size: u32, step: u32) -> Vec<u32> {
    let mut v: Vec<u32> = (0..)
        .map(|i| i * step)
        .take_while(|&s| s < extent - size)
        .collect();
    v.push(extent - size);
    v
}

#[test]
fn sixteen_bit_four_band_raster_with_nodata_is_stretched_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    // The port scene on the right; everything left of x = 1400 and a
    // hole in the middle of the scene are nodata (0).
    let (w, h) = (2200u32, 1000u32);
    let s = scene(w, h, &[(20, 1500, 300)]);
    let hole = |x: u32, y: u32| (1500..1560).contains(&x) && (300..340).contains(&y);
    let nodata = |x: u32, y: u32| x < 1400 || hole(x, y);
    // Bands as a 4-band sensor stores them: blue, green, red, near-IR,
    // 12-bit values in 16-bit words.
    let mut bands: Vec<Vec<u16>> = vec![Vec::new(); 4];
    for (x, y, p) in s.image.enumerate_pixels() {
        let v = |c: u8| if nodata(x, y) { 0 } else { 200 + 14 * c as u16 };
        bands[0].push(v(p.0[2]));
        bands[1].push(v(p.0[1]));
        bands[2].push(v(p.0[0]));
        bands[3].push(v(p.0[1] / 2 + 40));
    }
    let tif = dir.path().join("16bit.tif");
    write_raster(&tif, "GTiff", (w, h), bands, UTM, "EPSG:32633", Some(0.0));
    let run = screen(&tif, &dir.path().join("runs"), &["--bands", "3,2,1"]);
    let source = &read_json(&run.join("run.json"))["sources"][0];
    let raster = &source["info"]["raster"];
    assert_eq!(raster["channels"], serde_json::json!([3, 2, 1]));
    assert_eq!(raster["masked"], true);
    for b in raster["bands"].as_array().unwrap() {
        assert_eq!(b["data_type"], "UInt16");
        let (lo, hi) = (
            b["stretch"][0].as_f64().unwrap(),
            b["stretch"][1].as_f64().unwrap(),
        );
        assert!(200.0 <= lo && lo < hi && hi <= 200.0 + 14.0 * 255.0, "{b}");
    }
    // Windows wholly left of x = 1400 are skipped without inference.
    let (xs, ys) = (window_starts(w, 640, 512), window_starts(h, 640, 512));
    let empty = xs.iter().filter(|&&x| x + 640 <= 1400).count() * ys.len();
    assert!(empty >= 2);
    assert_eq!(
        source["tiles"]["nodata"], empty as u64,
        "{}",
        source["tiles"]
    );
    assert_eq!(
        source["tiles"]["read"],
        (xs.len() * ys.len() - empty) as u64
    );
    // The stretched scene reads like the 8-bit one: the people in the
    // open container are found.
    let kinds: Vec<String> = closed_events(&run)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, vec!["containment"], "{kinds:?}");
    // Through the library: inside a window with data, nodata pixels are
    // painted the letterbox grey; data pixels carry the stretched values.
    use lookout::source::raster::{RasterOptions, RasterSource};
    use lookout::source::Source;
    let options = RasterOptions {
        config: lookout::source::raster::RasterConfig {
            bands: Some(vec![3, 2, 1]),
            ..Default::default()
        },
        tiling: lookout::detect::tile::Tiling::with_size(640),
    };
    let mut src = RasterSource::open(&tif, 0, &options).unwrap();
    let mut checked = 0;
    while let Some(f) = src.next_frame().unwrap() {
        let win = f.window.unwrap();
        for (x, y, p) in f.image.enumerate_pixels() {
            let (sx, sy) = (x + win.x, y + win.y);
            if nodata(sx, sy) {
                assert_eq!(p.0, [114, 114, 114], "nodata at {sx},{sy}");
                checked += 1;
            } else if (sx, sy) == (1700, 320) {
                assert_ne!(p.0, [114, 114, 114]);
            }
        }
    }
    assert!(checked > 60 * 40, "{checked}");
}

#[test]
fn nitf_is_screened_and_placed() {
    // Debian's GDAL writes NITF (with its corner coordinates in IGEOLO).
    screened_and_placed("NITF", "scene.ntf");
}

#[test]
fn jpeg2000_is_screened_and_placed() {
    // GeoJP2, written losslessly by GDAL's OpenJPEG driver.
    screened_and_placed("JP2OpenJPEG", "scene.jp2");
}

fn screened_and_placed(driver: &str, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let s = scene(900, 700, &[(120, 100, 150)]);
    let ntf = dir.path().join(name);
    write_raster(
        &ntf,
        driver,
        (900, 700),
        planes(&s.image),
        [54.1, 5e-6, 0.0, 25.2, 0.0, -5e-6],
        "EPSG:4326",
        None,
    );
    let run = screen(&ntf, &dir.path().join("runs"), &[]);
    let source = &read_json(&run.join("run.json"))["sources"][0];
    assert_eq!(source["info"]["raster"]["driver"], driver);
    let features = features(&run.join("detections.geojson"));
    assert!(!features.is_empty());
    let centres: Vec<(f64, f64)> = features
        .iter()
        .map(|f| {
            let b = feature_box(f);
            ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
        })
        .collect();
    for (f, want) in features.iter().zip(gdaltransform(&ntf, &centres)) {
        let p = &f["properties"];
        let got = (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap());
        assert!(metres(got, want) < 0.05, "{got:?} vs {want:?}");
    }
    assert!(closed_events(&run)
        .iter()
        .any(|e| e["kind"] == "overcrowding"));
}

#[test]
fn bad_rasters_are_named_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::write(inputs.join("a-broken.tif"), b"II*\0 not really a tiff").unwrap();
    let s = scene(700, 500, &[(120, 10, 10)]);
    write_raster(
        &inputs.join("b-good.tif"),
        "GTiff",
        (700, 500),
        planes(&s.image),
        UTM,
        "EPSG:32633",
        None,
    );
    let out = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        inputs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("a-broken.tif"), "{err}");
    let run = run_dir(&out);
    let sources = read_json(&run.join("run.json"))["sources"].clone();
    assert!(sources[0]["error"]
        .as_str()
        .unwrap()
        .contains("a-broken.tif"));
    assert!(sources[1]["error"].is_null());
    assert!(
        !closed_events(&run).is_empty(),
        "the good raster is still screened"
    );

    // A band the raster lacks is an error that says how many it has.
    let out = dir.path().join("runs-bands");
    let o = lookout(&[
        "screen",
        inputs.join("b-good.tif").to_str().unwrap(),
        "--bands",
        "4,3,2",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("b-good.tif") && err.contains("band 4") && err.contains("3 band"),
        "{err}"
    );
}

#[test]
fn full_frame_pass_finds_objects_larger_than_the_model_was_shown() {
    // The sortie frame at full size: in 640 px windows at full resolution
    // everything is twice as large as the demo model was trained on. The
    // low-resolution pass over the whole scene (scale 2) sees it as the
    // video pipeline does, and its boxes are mapped back to scene pixels.
    let dir = tempfile::tempdir().unwrap();
    let (frame, boxes) = sortie_frame(120);
    let full = image::imageops::resize(&frame, 1280, 720, image::imageops::FilterType::Triangle);
    let tif = dir.path().join("full.tif");
    write_raster(
        &tif,
        "GTiff",
        (1280, 720),
        planes(&full),
        UTM,
        "EPSG:32633",
        None,
    );
    let vessel = boxes
        .iter()
        .find(|(c, _)| c == "vessel")
        .unwrap()
        .1
        .map(|v| v * 2.0);
    let best = |extra: &[&str], name: &str| {
        let mut args = vec!["--classes", "vessel"];
        args.extend_from_slice(extra);
        let run = screen(&tif, &dir.path().join(name), &args);
        let source = &read_json(&run.join("run.json"))["sources"][0];
        let planned = source["tiles"]["planned"].as_u64().unwrap();
        let path = run.join("detections.geojson");
        let found = if path.exists() {
            features(&path)
                .iter()
                .map(|f| iou(&vessel, &feature_box(f)))
                .fold(0.0, f64::max)
        } else {
            0.0
        };
        (planned, found)
    };
    let (planned, with_pass) = best(&["--full-frame"], "pass");
    assert_eq!(planned, 3 * 2 + 1, "six windows and the whole-scene pass");
    assert!(with_pass > 0.7, "best IoU with the pass {with_pass}");
}

#[test]
fn png_with_a_world_file_is_placed_with_the_configured_crs() {
    let dir = tempfile::tempdir().unwrap();
    let s = scene(800, 600, &[(120, 80, 120)]);
    let png = dir.path().join("mosaic.png");
    s.image.save(&png).unwrap();
    // A world file: pixel size, rotations, and the centre of the top-left
    // pixel; it has no CRS, so the run is told one.
    std::fs::write(
        dir.path().join("mosaic.pgw"),
        "0.5\n0.0\n0.0\n-0.5\n500000.25\n4649999.75\n",
    )
    .unwrap();
    let config = dir.path().join("lookout.toml");
    std::fs::write(&config, "[raster]\ncrs = \"EPSG:32633\"\n").unwrap();
    let run = screen(
        &png,
        &dir.path().join("runs"),
        &["--config", config.to_str().unwrap()],
    );
    let source = &read_json(&run.join("run.json"))["sources"][0];
    assert_eq!(source["kind"], "raster");
    assert_eq!(
        source["info"]["raster"]["georef"]["geotransform"],
        serde_json::json!(UTM)
    );
    let features = features(&run.join("detections.geojson"));
    let b = feature_box(&features[0]);
    let (x, y) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let want = Georef::new(UTM, "EPSG:32633")
        .unwrap()
        .to_wgs84(&[(x, y)])
        .unwrap()[0];
    let p = &features[0]["properties"];
    assert!(
        metres(
            (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap()),
            want
        ) < 0.05
    );

    // Without a CRS the image is still screened, in pixels.
    let run = screen(&png, &dir.path().join("runs-nocrs"), &[]);
    assert!(!run.join("detections.geojson").exists());
    assert!(!closed_events(&run).is_empty());
}

#[test]
fn stretch_comes_from_overviews_when_the_file_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (2048u32, 1024u32);
    // A ramp: value = 1000 + x, so percentiles are known.
    let band: Vec<u16> = (0..h)
        .flat_map(|_| (0..w).map(|x| 1000 + x as u16))
        .collect();
    let tif = dir.path().join("ramp.tif");
    write_raster(&tif, "GTiff", (w, h), vec![band], UTM, "EPSG:32633", None);
    let stretch = || {
        let options = lookout::source::raster::RasterOptions {
            config: Default::default(),
            tiling: lookout::detect::tile::Tiling::with_size(640),
        };
        let src = lookout::source::raster::RasterSource::open(&tif, 0, &options).unwrap();
        use lookout::source::Source;
        let b = &src.info().raster.as_ref().unwrap()["bands"][0];
        (
            b["stretch"][0].as_f64().unwrap(),
            b["stretch"][1].as_f64().unwrap(),
        )
    };
    // Sampled windows (16 columns of 64 px): 2% and 98% of the ramp,
    // within the sample's grain (about 20 here).
    let (lo, hi) = stretch();
    assert!((lo - (1000.0 + 0.02 * 2047.0)).abs() < 50.0, "{lo}");
    assert!((hi - (1000.0 + 0.98 * 2047.0)).abs() < 50.0, "{hi}");
    // With overviews (as a Cloud-Optimised GeoTIFF has), from the coarsest
    // of at least 512 px: the same values, to a pixel or two.
    let status = Command::new("gdaladdo")
        .args(["-q", "-r", "average"])
        .arg(&tif)
        .args(["2", "4", "8"])
        .status()
        .expect("running gdaladdo (Debian's gdal-bin)");
    assert!(status.success());
    let (lo, hi) = stretch();
    assert!((lo - (1000.0 + 0.02 * 2047.0)).abs() < 3.0, "{lo}");
    assert!((hi - (1000.0 + 0.98 * 2047.0)).abs() < 3.0, "{hi}");
}

#[test]
fn empty_and_text_files_named_tif_are_not_rasters_gdal_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.tif");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.tif");
    std::fs::write(&text, "field notes, not a raster\n").unwrap();
    let good = dir.path().join("good.png");
    write_png(&good, 64, 64);
    let (code, err) = screen_inputs(&[&empty, &text, &good], &dir.path().join("runs"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("empty.tif is not a raster GDAL can read: the file is empty"),
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.contains("notes.tif"))
        .unwrap_or_else(|| panic!("{err}"));
    // GDAL's own reason, not the binding's NULL-pointer wrapper.
    assert!(
        line.contains("is not a raster GDAL can read") && line.contains("not recognized"),
        "{line}"
    );
    assert!(!err.contains("NULL pointer"), "{err}");
    assert!(
        !closed_events(&run_dir(&dir.path().join("runs"))).is_empty(),
        "the PNG is still screened"
    );
}

#[test]
fn geotiff_cut_in_half_is_a_damaged_raster_not_a_video() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.tif");
    let image = sea(600, 400);
    write_raster(
        &whole,
        "GTiff",
        (600, 400),
        planes(&image),
        UTM,
        "EPSG:32633",
        None,
    );
    let bytes = std::fs::read(&whole).unwrap();
    let half = dir.path().join("half.tif");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let good = dir.path().join("good.png");
    write_png(&good, 64, 64);
    let out = dir.path().join("runs");
    let (code, err) = screen_inputs(&[&half, &good], &out, &[]);
    assert_eq!(code, Some(2), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("half.tif"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("raster") && line.contains("damaged") && line.contains("truncated"),
        "{line}"
    );
    assert!(!err.contains("video"), "{err}");
    let run = run_dir(&out);
    assert_eq!(read_json(&run.join("run.json"))["status"], "finished");
    assert!(!closed_events(&run).is_empty(), "the PNG is still screened");
}
