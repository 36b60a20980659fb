//! Drone telemetry end to end: the sample sortie with a flight the tests
//! make up over a known place, as MISB ST 0601 KLV muxed into MPEG-TS
//! (asynchronous and synchronous carriage) and as a DJI SRT sidecar. The
//! crowded vessel's event must land within a few metres of where the scene
//! generator put it, and its density must come from metres.
//!
//! The flight: `scripts/make_sample_sortie.py` pans a 1280×720 window over
//! a 1800×960 scene per segment. The tests put each scene on flat sea at
//! [`GSD`] metres per scene pixel, north up, its centre at
//! [`ORIGIN`], and fly a nadir camera with a 60° horizontal field of view
//! over the window's centre at the height that gives that scale. The
//! vessel of segment 3 lies at scene pixel (880, 480): 20 pixels (1 m)
//! west of the scene centre.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lookout::geo::camera::Tangent;
use lookout::telemetry::synth::{self, KlvCarriage};
use lookout::telemetry::{st0601, Format, Record, Utc};
use serde_json::Value;

use crate::util::*;

/// Metres per scene pixel.
const GSD: f64 = 0.05;
/// The scene centre (900, 480) of every segment, off Lampedusa.
const ORIGIN: (f64, f64) = (35.48, 12.55);
const HFOV_DEG: f64 = 60.0;
const FPS: f64 = 10.0;
const WIDTH: f64 = 1280.0;
const HEIGHT: f64 = 720.0;

/// Segments of the sortie: first frame, frame count, and the window's
/// pan from (x0, y0) to (x1, y1), as `make_sample_sortie.py` has them.
type Segment = (u32, u32, (f64, f64), (f64, f64));
const SEGMENTS: &[Segment] = &[
    (0, 60, (150.0, 70.0), (380.0, 110.0)),
    (60, 40, (180.0, 40.0), (300.0, 60.0)),
    (100, 55, (120.0, 100.0), (330.0, 140.0)),
    (155, 40, (100.0, 120.0), (300.0, 110.0)),
    (195, 35, (200.0, 100.0), (380.0, 160.0)),
    (230, 35, (250.0, 130.0), (420.0, 120.0)),
];

/// The window's top-left corner in the scene at frame `f`.
fn window(f: u32) -> (f64, f64) {
    let &(start, n, (x0, y0), (x1, y1)) = SEGMENTS
        .iter()
        .find(|s| f >= s.0 && f < s.0 + s.1)
        .expect("a frame of the sortie");
    let u = f64::from(f - start) / f64::from(n - 1);
    ((x0 + (x1 - x0) * u).round(), (y0 + (y1 - y0) * u).round())
}

/// Where scene pixel `(x, y)` is on the ground: `(lon, lat)`.
fn ground(x: f64, y: f64) -> (f64, f64) {
    Tangent::at(ORIGIN.0, ORIGIN.1).to_lonlat((x - 900.0) * GSD, -(y - 480.0) * GSD)
}

/// The vessel of segment 3, where the scene generator put it.
fn vessel_truth() -> (f64, f64) {
    ground(880.0, 480.0)
}

/// The camera's height above the sea for [`GSD`] at [`HFOV_DEG`].
fn height_m() -> f64 {
    WIDTH / 2.0 * GSD / (HFOV_DEG.to_radians() / 2.0).tan()
}

fn vfov_deg() -> f64 {
    2.0 * ((HFOV_DEG.to_radians() / 2.0).tan() * HEIGHT / WIDTH)
        .atan()
        .to_degrees()
}

/// The ST 0601 record for frame `f`; with the four corners when `corners`.
fn st0601_at(f: u32, corners: bool) -> Record {
    let (ox, oy) = window(f);
    let (lon, lat) = ground(ox + WIDTH / 2.0, oy + HEIGHT / 2.0);
    let mut r = Record::new(Format::St0601);
    r.utc = Some(Utc::from_unix_us(
        1_780_000_000_000_000 + (f64::from(f) / FPS * 1e6) as i64,
        6,
    ));
    r.lat = Some(lat);
    r.lon = Some(lon);
    r.alt_m = Some(height_m());
    r.heading_deg = Some(0.0);
    r.pitch_deg = Some(0.0);
    r.roll_deg = Some(0.0);
    r.sensor_rel_azimuth_deg = Some(0.0);
    r.sensor_rel_elevation_deg = Some(-90.0);
    r.sensor_rel_roll_deg = Some(0.0);
    r.hfov_deg = Some(HFOV_DEG);
    r.vfov_deg = Some(vfov_deg());
    r.frame_center_lat = Some(lat);
    r.frame_center_lon = Some(lon);
    r.frame_center_elev_m = Some(0.0);
    r.ls_version = Some(19);
    if corners {
        let c = |x: f64, y: f64| {
            let (lo, la) = ground(ox + x, oy + y);
            [lo, la]
        };
        r.corners = Some([c(0.0, 0.0), c(WIDTH, 0.0), c(WIDTH, HEIGHT), c(0.0, HEIGHT)]);
    }
    r
}

/// The first presented video frame's raw PTS in 90 kHz ticks.
fn first_video_pts(ts: &Path) -> u64 {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
        ])
        .args(["-show_entries", "frame=pts", "-of", "csv=p=0"])
        .arg(ts)
        .output()
        .expect("running ffprobe");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .expect("ffprobe gives the first frame's pts")
}

/// The sortie as MPEG-TS with ST 0601 KLV at 5 Hz (every other frame),
/// carried as `carriage`, written into `dir`.
fn sortie_ts(dir: &Path, carriage: KlvCarriage, corners: bool) -> PathBuf {
    let video = dir.join("video.ts");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(&video)
        .status()
        .expect("running ffmpeg");
    assert!(status.success());
    let start = first_video_pts(&video);
    let klv: Vec<(u64, Vec<u8>)> = (0..265)
        .step_by(2)
        .map(|f| {
            let pts = start + u64::from(f) * 9000;
            (pts, st0601::encode(&st0601_at(f, corners)))
        })
        .collect();
    let ts = synth::mux_klv(&std::fs::read(&video).unwrap(), &klv, carriage, true);
    let out = dir.join(format!("sortie-{carriage:?}.ts").to_lowercase());
    std::fs::write(&out, ts).unwrap();
    out
}

/// Metres between two `(lon, lat)` points.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (e, n) = Tangent::at(a.1, a.0).to_en(b.1, b.0);
    e.hypot(n)
}

fn overcrowding(run: &Path) -> Value {
    let events = closed_events(run);
    events
        .into_iter()
        .find(|e| e["kind"] == "overcrowding")
        .unwrap_or_else(|| panic!("no overcrowding event in {}", run.display()))
}

/// The anchor track of an event's best frame, and its `(lon, lat)`.
fn anchor_position(event: &Value) -> (&Value, (f64, f64)) {
    let anchor = event["best_frame"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "anchor")
        .expect("an anchor track");
    let at = (
        anchor["geo"]["lon"].as_f64().unwrap(),
        anchor["geo"]["lat"].as_f64().unwrap(),
    );
    (anchor, at)
}

/// Checks the vessel event of a run whose frames were placed by `method`.
fn check_vessel_event(run: &Path, method: &str) {
    let line = overcrowding(run);
    let geo = &line["geo"];
    assert_eq!(geo["method"], method, "{line}");
    let event: Value = read_json(&run.join(line["artefacts"]["event"].as_str().unwrap()));
    // The vessel itself (the anchor), not the union of everyone aboard.
    let (_, at) = anchor_position(&event);
    let off = metres(at, vessel_truth());
    let best = &event["best_frame"];
    eprintln!(
        "{}: vessel placed {off:.2} m from the truth by {method}; {}",
        run.display(),
        best["reason"]
    );
    assert!(
        off < 3.0,
        "the vessel is {off:.2} m from where it was put ({at:?})"
    );
    // The event's position (all its boxes) is near it too.
    let whole = (geo["lon"].as_f64().unwrap(), geo["lat"].as_f64().unwrap());
    assert!(metres(whole, vessel_truth()) < 5.0);
    // Density from metres: the vessel's box is about 235 × 100 px at 5 cm.
    let best = &event["best_frame"];
    let length = best["length_m"].as_f64().expect("a length in metres");
    assert!((8.0..16.0).contains(&length), "length {length} m");
    let area = best["area_m2"].as_f64().unwrap();
    assert!(area > 10.0 && area < 150.0, "area {area} m²");
    assert!(best["density_per_m2"].as_f64().unwrap() > 0.0);
    assert!(
        best["reason"].as_str().unwrap().contains("m long"),
        "{}",
        best["reason"]
    );
    assert!(best["density_note"].is_null(), "{}", best["density_note"]);
    let gsd = best["gsd_m_per_px"].as_f64().unwrap();
    assert!((gsd - GSD).abs() < 0.002, "gsd {gsd}");
    assert_eq!(event["ground"]["method"], method);
    assert!(event["ground_track"].as_array().unwrap().len() >= 5);
    // run.json: every frame screened placed, by this method.
    let run_json = read_json(&run.join("run.json"));
    let src = &run_json["sources"][0];
    assert_eq!(
        src["placement"]["placed"][method], src["frames_screened"],
        "{}",
        src["placement"]
    );
    assert!(src["info"]["telemetry"]["records"].as_u64().unwrap() > 100);
    // events.geojson: the event, its track, and the platform's path.
    let fc = read_json(&run.join("events.geojson"));
    let features = fc["features"].as_array().unwrap();
    let kinds: Vec<&str> = features
        .iter()
        .map(|f| f["properties"]["feature"].as_str().unwrap_or("event"))
        .collect();
    assert!(
        kinds.contains(&"platform_path") && kinds.contains(&"event"),
        "{kinds:?}"
    );
    let path = features
        .iter()
        .find(|f| f["properties"]["feature"] == "platform_path")
        .unwrap();
    assert_eq!(path["geometry"]["type"], "LineString");
    assert!(path["geometry"]["coordinates"].as_array().unwrap().len() >= 20);
}

/// A config in `dir` that states the camera's field of view, for sources
/// that do not (flight logs, a still without EXIF focal length).
fn hfov_config(dir: &Path) -> PathBuf {
    let config = dir.join("lookout.toml");
    std::fs::write(&config, format!("[geo]\nhfov_deg = {HFOV_DEG}\n")).unwrap();
    config
}

fn screen(input: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let o = lookout_command()
        .arg("screen")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    run_dir(out)
}

#[test]
fn st0601_in_mpeg_ts_places_the_vessel_by_corners_and_by_pointing() {
    let dir = tempfile::tempdir().unwrap();
    // Asynchronous KLV with corners: placed by the corners.
    let ts = sortie_ts(dir.path(), KlvCarriage::Async, true);
    let run = screen(&ts, &dir.path().join("async"), &["--save-detections"]);
    check_vessel_event(&run, "corners");
    let detections = jsonl(&run.join("detections.jsonl"));
    let placed = detections
        .iter()
        .flat_map(|l| l["detections"].as_array().unwrap())
        .filter(|d| d["lon"].is_f64() && d["gsd_m"].is_f64())
        .count();
    assert!(placed > 100, "{placed} detections placed");
    let fc = read_json(&run.join("detections.geojson"));
    assert!(fc["features"].as_array().unwrap().len() >= placed);
    // Synchronous (0x15) KLV without corners: placed by pointing.
    let ts = sortie_ts(dir.path(), KlvCarriage::Sync, false);
    let run = screen(&ts, &dir.path().join("sync"), &[]);
    check_vessel_event(&run, "pointing");
}

#[test]
fn a_dji_srt_sidecar_places_the_vessel() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("DJI_0007.MP4");
    std::fs::copy(data("sample-sortie.mp4"), &video).unwrap();
    // A 35 mm-equivalent focal length for a 60° field across 16:9.
    let focal_px = WIDTH / 2.0 / (HFOV_DEG.to_radians() / 2.0).tan();
    let f35 = focal_px * 36f64.hypot(24.0) / WIDTH.hypot(HEIGHT);
    let mut srt = String::new();
    for f in 0..265u32 {
        let (ox, oy) = window(f);
        let (lon, lat) = ground(ox + WIDTH / 2.0, oy + HEIGHT / 2.0);
        let ms = f * 100;
        let t = |ms: u32| format!("00:00:{:02},{:03}", ms / 1000, ms % 1000);
        srt.push_str(&format!(
            "{n}\n{a} --> {b}\n<font size=\"28\">FrameCnt: {n}, DiffTime: 100ms\n\
             2026-06-01 10:00:{s:02}.{sub:03}\n[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] \
             [focal_len: {f35:.2}] [dzoom_ratio: 1.00] [latitude: {lat:.7}] \
             [longitude: {lon:.7}] [rel_alt: {h:.3} abs_alt: {abs:.3}] \
             [gb_yaw: 0.0 gb_pitch: -90.0 gb_roll: 0.0] </font>\n\n",
            n = f + 1,
            a = t(ms),
            b = t(ms + 100),
            s = ms / 1000,
            sub = ms % 1000,
            h = height_m(),
            abs = height_m() + 20.0,
        ));
    }
    std::fs::write(dir.path().join("DJI_0007.SRT"), srt).unwrap();
    // With each event frame's footprint in events.geojson.
    let config = dir.path().join("lookout.toml");
    std::fs::write(&config, "[geo]\nframe_footprints = true\n").unwrap();
    let run = screen(
        &video,
        &dir.path().join("out"),
        &["-c", config.to_str().unwrap()],
    );
    check_vessel_event(&run, "pointing");
    let run_json = read_json(&run.join("run.json"));
    let info = &run_json["sources"][0]["info"]["telemetry"];
    assert_eq!(info["format"], "srt", "{info}");
    let fc = read_json(&run.join("events.geojson"));
    let frame = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["feature"] == "frame_footprint")
        .expect("the best frame's footprint");
    // The whole frame: 64 m × 36 m at 5 cm a pixel.
    let ring = frame["geometry"]["coordinates"][0].as_array().unwrap();
    let p = |i: usize| (ring[i][0].as_f64().unwrap(), ring[i][1].as_f64().unwrap());
    let sides = [metres(p(0), p(1)), metres(p(1), p(2))];
    assert!(
        sides.iter().any(|s| (s - 64.0).abs() < 0.5)
            && sides.iter().any(|s| (s - 36.0).abs() < 0.5),
        "{sides:?}"
    );
}

#[test]
fn video_without_telemetry_says_why_and_places_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = screen(&data("sample-sortie.mp4"), dir.path(), &[]);
    let line = overcrowding(&run);
    assert!(line.get("geo").is_none() || line["geo"].is_null(), "{line}");
    let run_json = read_json(&run.join("run.json"));
    let why = run_json["sources"][0]["info"]["telemetry"]["none"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(why.contains("no telemetry"), "{why}");
    assert!(!run.join("events.geojson").exists());
}

#[test]
fn lookout_telemetry_prints_records_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let ts = sortie_ts(dir.path(), KlvCarriage::Sync, true);
    // One packet with a wrong checksum: counted, not printed.
    let mut bad = st0601::encode(&st0601_at(1, true));
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    let klv = dir.path().join("raw.klv");
    std::fs::write(
        &klv,
        [
            st0601::encode(&st0601_at(0, true)),
            bad,
            st0601::encode(&st0601_at(2, true)),
        ]
        .concat(),
    )
    .unwrap();
    let o = lookout(&["telemetry", "--json", ts.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 133);
    let first = &lines[0];
    assert_eq!(first["source"], "st0601");
    assert_eq!(first["t_s"], 0.0);
    assert_eq!(first["pid"], synth::KLV_PID);
    assert!(first["pts_90k"].is_u64());
    assert_eq!(first["checksum_ok"], true);
    assert_eq!(first["ls_version"], 19);
    assert!(first["corners"].as_array().unwrap().len() == 4);
    let (lon, lat) = ground(150.0 + 640.0, 70.0 + 360.0);
    assert!((first["lat"].as_f64().unwrap() - lat).abs() < 1e-6);
    assert!((first["lon"].as_f64().unwrap() - lon).abs() < 1e-6);
    assert!((lines[1]["t_s"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert_eq!(first["utc"], "2026-05-28T20:26:40.000000Z");
    let o = lookout(&["telemetry", klv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("records:           2 (st0601 2)"), "{text}");
    assert!(text.contains("checksum failures: 1"), "{text}");
    // A missing file is an error naming it; the others still print.
    let o = lookout(&["telemetry", "nope.srt", klv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.srt"), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("raw.klv"));
}

#[test]
fn watch_on_mpeg_ts_over_udp_alerts_with_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let ts = sortie_ts(dir.path(), KlvCarriage::Async, true);
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("udp://127.0.0.1:{port}");
    let out = dir.path().join("live");
    let alerts = dir.path().join("alerts.jsonl");
    let watch = lookout_command()
        .args(["watch", &url, "--duration", "40", "-o"])
        .arg(&out)
        .arg("--alerts")
        .arg(&alerts)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    // Relay the file in real time, the KLV data stream with the video.
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(&ts)
        .args(["-map", "0", "-c", "copy", "-f", "mpegts"])
        .arg(format!("udp://127.0.0.1:{port}?pkt_size=1316"))
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let _ = Command::new("kill")
        .args(["-TERM", &watch.id().to_string()])
        .status();
    let o = watch.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let alerts = jsonl(&alerts);
    let open = alerts
        .iter()
        .find(|a| a["alert"] == "open" && a["kind"] == "overcrowding")
        .unwrap_or_else(|| panic!("no overcrowding alert: {alerts:?}\n{err}"));
    let at = (open["lon"].as_f64().unwrap(), open["lat"].as_f64().unwrap());
    eprintln!(
        "watch alert: {:.2} m from the vessel",
        metres(at, vessel_truth())
    );
    assert!(metres(at, vessel_truth()) < 5.0, "{open}");
    assert_eq!(open["placement"], "corners");
    let run_json = read_json(&run_dir(&out).join("run.json"));
    let placed = &run_json["feeds"][0]["placement"]["placed"]["corners"];
    assert!(
        placed.as_u64().unwrap_or(0) > 50,
        "{}",
        run_json["feeds"][0]
    );
}

#[test]
fn a_csv_flight_log_is_aligned_by_utc_and_the_config_gives_the_field_of_view() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("sortie.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args([
            "-c",
            "copy",
            "-metadata",
            "creation_time=2026-06-01T10:00:00.000000Z",
        ])
        .arg(&video)
        .status()
        .unwrap();
    assert!(status.success());
    // A log at 2 Hz that starts 0.5 s before the video, in feet as AirData
    // writes them.
    let mut csv = String::from(
        "datetime(utc),latitude,longitude,height_above_takeoff(feet),gimbal_pitch(degrees),gimbal_heading(degrees)\n",
    );
    for i in 0..56u32 {
        let t = f64::from(i) * 0.5 - 0.5;
        let f = ((t * FPS).round().max(0.0) as u32).min(264);
        let (ox, oy) = window(f);
        let (lon, lat) = ground(ox + WIDTH / 2.0, oy + HEIGHT / 2.0);
        let ms = (t * 1000.0).round() as i64;
        let (s, sub) = (ms.div_euclid(1000), ms.rem_euclid(1000));
        let stamp = if s < 0 {
            format!("2026-06-01 09:59:59.{sub:03}")
        } else {
            format!("2026-06-01 10:00:{s:02}.{sub:03}")
        };
        csv.push_str(&format!(
            "{stamp},{lat:.8},{lon:.8},{:.3},-90.0,0.0\n",
            height_m() / 0.3048
        ));
    }
    let log = dir.path().join("flight.csv");
    std::fs::write(&log, csv).unwrap();
    let config = hfov_config(dir.path());
    let run = screen(
        &video,
        &dir.path().join("out"),
        &[
            "--telemetry",
            log.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
    );
    let line = overcrowding(&run);
    assert_eq!(line["geo"]["method"], "pointing", "{line}");
    let at = (
        line["geo"]["lon"].as_f64().unwrap(),
        line["geo"]["lat"].as_f64().unwrap(),
    );
    // The log holds the window's centre at 2 Hz while the camera pans at
    // 10 Hz: interpolation keeps it within a few pixels of 5 cm.
    eprintln!(
        "CSV log: event placed {:.2} m from the vessel",
        metres(at, vessel_truth())
    );
    assert!(metres(at, vessel_truth()) < 5.0, "{line}");
    // A flight log for a video that states no start time is refused.
    let o = lookout_command()
        .arg("screen")
        .arg(data("sample-sortie.mp4"))
        .arg("--telemetry")
        .arg(&log)
        .arg("-o")
        .arg(dir.path().join("out2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("creation_time"), "{}", stderr(&o));
}

#[test]
fn a_dji_still_is_placed_from_its_xmp() {
    let dir = tempfile::tempdir().unwrap();
    // Frame 127 of the sortie: the crowded vessel, the window at (225, 120).
    let frame = dir.path().join("frame.jpg");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args(["-vf", "select=eq(n\\,127)", "-frames:v", "1", "-q:v", "2"])
        .arg(&frame)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(window(127), (225.0, 120.0));
    let (lon, lat) = ground(225.0 + WIDTH / 2.0, 120.0 + HEIGHT / 2.0);
    let xmp = format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\
         <rdf:Description rdf:about=\"DJI Meta Data\" xmlns:drone-dji=\"http://www.dji.com/drone-dji/1.0/\" \
         drone-dji:GpsLatitude=\"{lat:.9}\" drone-dji:GpsLongitude=\"{lon:.9}\" \
         drone-dji:AbsoluteAltitude=\"+{abs:.2}\" drone-dji:RelativeAltitude=\"+{h:.2}\" \
         drone-dji:GimbalRollDegree=\"+0.00\" drone-dji:GimbalYawDegree=\"+0.00\" \
         drone-dji:GimbalPitchDegree=\"-90.00\" drone-dji:FlightYawDegree=\"+0.00\"/>\
         </rdf:RDF></x:xmpmeta>",
        abs = height_m() + 30.0,
        h = height_m()
    );
    let jpeg = std::fs::read(&frame).unwrap();
    let mut payload = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    payload.extend_from_slice(xmp.as_bytes());
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    let still = dir.path().join("DJI_0127.JPG");
    std::fs::write(&still, out).unwrap();
    let o = lookout(&["telemetry", still.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("exif 1"));
    let config = hfov_config(dir.path());
    let run = screen(
        &still,
        &dir.path().join("out"),
        &["-c", config.to_str().unwrap()],
    );
    let line = overcrowding(&run);
    assert_eq!(line["geo"]["method"], "pointing", "{line}");
    let event: Value = read_json(&run.join(line["artefacts"]["event"].as_str().unwrap()));
    let (anchor, at) = anchor_position(&event);
    eprintln!(
        "DJI still: vessel placed {:.2} m from the truth",
        metres(at, vessel_truth())
    );
    assert!(metres(at, vessel_truth()) < 3.0, "{anchor}");
}
