//! One assembly for screen, watch and eval: live frames go through the same
//! detection step as batch frames (tiles included), feeds share inference
//! calls, and a run's saved detections score as the model does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::screen::assert_manifest_holds;
use crate::util::*;
use crate::watch::{free_tcp_port, http_get};

/// The first `seconds` of the sortie, cut without re-encoding.
fn sortie_clip(dir: &Path, seconds: u32) -> PathBuf {
    let out = dir.join(format!("sortie-{seconds}s.mp4"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args(["-t", &seconds.to_string(), "-c", "copy"])
        .arg(&out)
        .status()
        .expect("running ffmpeg");
    assert!(status.success());
    out
}

/// `detections.jsonl` of a run, as (frame index, detections) in order.
fn saved(run: &Path) -> Vec<(u64, Vec<Value>)> {
    jsonl(&run.join("detections.jsonl"))
        .into_iter()
        .map(|l| {
            (
                l["frame_index"].as_u64().unwrap(),
                l["detections"].as_array().unwrap().clone(),
            )
        })
        .collect()
}

fn watch_file(args: &[&str]) -> std::process::Output {
    let mut all = vec!["watch", "--no-drop", "--quiet"];
    all.extend_from_slice(args);
    let o = lookout(&all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    o
}

#[test]
fn watch_with_tiles_detects_what_screen_detects_on_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let clip = sortie_clip(dir.path(), 3);
    let clip = clip.to_str().unwrap();
    let (screened, watched) = (dir.path().join("screen"), dir.path().join("watch"));
    // 1280x720 frames in 320-pixel tiles: 15 tiles a frame, plus the
    // whole frame.
    let tiles = ["--tile", "320", "--full-frame", "--save-detections"];
    // `watch` infers every frame by default; `screen` is told to.
    let mut args = vec![
        "screen",
        clip,
        "--sample",
        "full",
        "--quiet",
        "--out",
        screened.to_str().unwrap(),
    ];
    args.extend_from_slice(&tiles);
    let o = lookout(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut args = vec![clip, "--out", watched.to_str().unwrap()];
    args.extend_from_slice(&tiles);
    watch_file(&args);

    let (s, w) = (saved(&run_dir(&screened)), saved(&run_dir(&watched)));
    assert!(s.len() >= 25, "{} frames", s.len());
    assert_eq!(
        s.iter().map(|f| f.0).collect::<Vec<_>>(),
        w.iter().map(|f| f.0).collect::<Vec<_>>(),
        "the same frames"
    );
    let mut boxes = 0;
    for ((frame, a), (_, b)) in s.iter().zip(&w) {
        assert_eq!(a.len(), b.len(), "frame {frame}: {a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x["class"], y["class"], "frame {frame}");
            for (p, q) in x["box"]
                .as_array()
                .unwrap()
                .iter()
                .zip(y["box"].as_array().unwrap())
            {
                let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
                assert!((p - q).abs() < 1e-3, "frame {frame}: {x} vs {y}");
            }
            assert!((x["score"].as_f64().unwrap() - y["score"].as_f64().unwrap()).abs() < 1e-4);
            boxes += 1;
        }
    }
    assert!(boxes > 50, "{boxes} detections compared");
    // Tiling did happen: whole frames and tiles alike were detected, more
    // than one tensor per frame.
    for out in [&screened, &watched] {
        let run = read_json(&run_dir(out).join("run.json"));
        let mean = run["summary"]["inference_batch_mean"].as_f64();
        let calls = run["summary"]["inference_calls"].as_u64().unwrap();
        assert_eq!(mean, Some(1.0), "batch 1: {}", run["summary"]);
        assert_eq!(calls, 16 * s.len() as u64, "{}", run["summary"]);
        assert_eq!(run["outputs"][0], "detections.jsonl");
        assert_manifest_holds(&run_dir(out));
    }
}

/// Closed events as (signature, start frame, last frame, peak count).
fn events(run: &Path, feed: Option<usize>) -> Vec<(String, u64, u64, u64)> {
    jsonl(&run.join("events.jsonl"))
        .into_iter()
        .filter(|e| e["step"] == "close")
        .filter(|e| feed.is_none_or(|f| e["source"]["id"] == f))
        .map(|e| {
            (
                e["signature"].as_str().unwrap().to_owned(),
                e["start_frame"].as_u64().unwrap(),
                e["last_frame"].as_u64().unwrap(),
                e["peak_count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

/// The first `seconds` of the sortie at 50 frames a second (each frame
/// shown five times): a frame comes faster than the demo model detects
/// one, so every feed has a frame waiting whenever detection is free.
fn fast_clip(dir: &Path, seconds: u32) -> PathBuf {
    let out = dir.join(format!("sortie-{seconds}s-50fps.mp4"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args([
            "-t",
            &seconds.to_string(),
            "-vf",
            "fps=50",
            "-c:v",
            "libx264",
        ])
        .args(["-preset", "ultrafast", "-g", "50"])
        .arg(&out)
        .status()
        .expect("running ffmpeg");
    assert!(status.success());
    out
}

#[test]
fn two_feeds_share_inference_calls_and_find_what_each_finds_alone() {
    let dir = tempfile::tempdir().unwrap();
    // Frames of two feeds share a call when both are waiting as detection
    // becomes free; on a clip faster than detection, that is always.
    let clip = fast_clip(dir.path(), 5);
    let clip = clip.to_str().unwrap();
    let alone = dir.path().join("alone");
    watch_file(&[clip, "--out", alone.to_str().unwrap()]);
    let want = events(&run_dir(&alone), None);
    assert!(!want.is_empty(), "the clip holds the container event");

    let together = dir.path().join("together");
    let addr = format!("127.0.0.1:{}", free_tcp_port());
    let child = lookout_command()
        .args([
            "watch",
            "--no-drop",
            "--quiet",
            clip,
            clip,
            "--metrics",
            &addr,
        ])
        .args(["--out", together.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // /metrics counts the calls while the feeds play.
    let t0 = Instant::now();
    let (calls, frames) = loop {
        let text = std::net::TcpStream::connect(&addr)
            .ok()
            .map(|_| http_get(&addr, "/metrics"))
            .unwrap_or_default();
        if text.contains("lookout_inference_frames_total") {
            let got = (
                metric(&text, "lookout_inference_calls_total"),
                metric(&text, "lookout_inference_frames_total"),
            );
            // Not the first frames: one feed may start decoding before the
            // other (on a loaded machine, by a second), and until both run
            // there is nothing to share. 150 of the 500 frames is well
            // into the overlap.
            if got.1 >= 150 {
                break got;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no metrics on {addr}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(calls < frames, "{calls} calls for {frames} frames");
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let run = run_dir(&together);
    assert_eq!(events(&run, Some(0)), want, "feed 0 as alone");
    assert_eq!(events(&run, Some(1)), want, "feed 1 as alone");
    let run_json = read_json(&run.join("run.json"));
    let summary = &run_json["summary"];
    let (calls, screened) = (
        summary["inference_calls"].as_u64().unwrap(),
        summary["frames_screened"].as_u64().unwrap(),
    );
    let frames_each = read_json(&run_dir(&alone).join("run.json"))["summary"]["frames_screened"]
        .as_u64()
        .unwrap();
    assert_eq!(screened, 2 * frames_each, "every frame of both feeds");
    assert!(calls < screened, "{summary}");
    assert!(
        summary["inference_batch_mean"].as_f64().unwrap() > 1.0,
        "{summary}"
    );
    assert_manifest_holds(&run);
}

#[test]
fn saved_detections_score_as_the_model_does_on_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let gt = data("sample-sortie.coco.json");
    let video = data("sample-sortie.mp4");
    let (gt, video) = (gt.to_str().unwrap(), video.to_str().unwrap());
    let o = lookout(&[
        "screen",
        video,
        "--sample",
        "full",
        "--conf",
        "0.001",
        "--save-detections",
        "--quiet",
        "--out",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = run_dir(&runs);
    assert_manifest_holds(&run);
    let manifest = std::fs::read_to_string(run.join("manifest.jsonl")).unwrap();
    assert!(manifest.contains("\"detections.jsonl\""));
    assert_eq!(saved(&run).len(), 265);

    let (from_run, from_model) = (dir.path().join("a"), dir.path().join("b"));
    let o = lookout(&[
        "eval",
        "--gt",
        gt,
        "--video",
        video,
        "--detections",
        run.to_str().unwrap(),
        "-o",
        from_run.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = lookout(&[
        "eval",
        "--gt",
        gt,
        "--video",
        video,
        "-m",
        repo().join("models/lookout-demo.onnx").to_str().unwrap(),
        "--conf",
        "0.001",
        "-o",
        from_model.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (a, b) = (
        read_json(&from_run.join("report.json")),
        read_json(&from_model.join("report.json")),
    );
    assert_eq!(a["detector"]["predictions"], b["detector"]["predictions"]);
    assert!(a["detector"]["predictions"].as_u64().unwrap() > 265);
    for (k, v) in a["coco"].as_object().unwrap() {
        let (x, y) = (v.as_f64().unwrap(), b["coco"][k].as_f64().unwrap());
        assert!(
            (x - y).abs() < 1e-9,
            "{k}: {x} from the run, {y} from the model"
        );
    }
    assert!(a["coco"]["AP50"].as_f64().unwrap() > 0.8, "{}", a["coco"]);
    assert_eq!(a["per_class"], b["per_class"]);
}
