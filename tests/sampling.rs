//! Adaptive sampling against full-rate screening, through the real binary
//! and the bundled demo model: every event found at full rate is found
//! with `--sample adaptive`, by the same signature, opening at most 1 s
//! later; `run.json` accounts for every frame of the input; and a
//! batch run's adaptive sampling, the default, does not depend on timing.

use std::path::Path;
use std::process::Command;

use crate::util::{jsonl, lookout, pyeval, read_json, repo, stderr, take_turns};

/// An opened event: signature, and the time its opening frame was shown.
type Opened = (String, f64);

struct Screened {
    opened: Vec<Opened>,
    sampling: serde_json::Value,
    frames_screened: u64,
    /// The stream positions of the frames inferred.
    inferred: Vec<u64>,
}

fn screen(video: &Path, out: &Path, mode: &str) -> Screened {
    screen_with(video, out, mode, &["--sample", mode])
}

/// Screens `video` into run `run_id` with `extra` flags, saving every
/// inferred frame's detections.
fn screen_with(video: &Path, out: &Path, run_id: &str, extra: &[&str]) -> Screened {
    let mut args = vec![
        "screen",
        video.to_str().unwrap(),
        "--save-detections",
        "--run-id",
        run_id,
        "--out",
        out.to_str().unwrap(),
    ];
    let model = repo().join("models/lookout-demo.onnx");
    args.extend(["--model", model.to_str().unwrap()]);
    args.extend(extra);
    let o = lookout(&args);
    assert!(o.status.success(), "{run_id}: {}", stderr(&o));
    let run = out.join(run_id);
    let inferred = jsonl(&run.join("detections.jsonl"))
        .iter()
        .map(|f| f["frame_index"].as_u64().unwrap())
        .collect();
    let opened = jsonl(&run.join("events.jsonl"))
        .into_iter()
        .filter(|e| e["step"] == "open")
        .map(|e| {
            (
                e["signature"].as_str().unwrap().to_owned(),
                e["at"]["pts_s"].as_f64().unwrap(),
            )
        })
        .collect();
    let record = read_json(&run.join("run.json"));
    let source = &record["sources"][0];
    Screened {
        opened,
        sampling: source["sampling"].clone(),
        frames_screened: source["frames_screened"].as_u64().unwrap(),
        inferred,
    }
}

fn count(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("sampling.{key} missing: {v}"))
}

fn sum(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_object()
        .unwrap_or_else(|| panic!("sampling.{key} missing: {v}"))
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// Checks the sampling record of one input of `frames` frames.
fn assert_accounted(s: &Screened, mode: &str, frames: u64) {
    let v = &s.sampling;
    assert_eq!(v["mode"], mode, "{v}");
    assert_eq!(count(v, "decoded") + count(v, "not_decoded"), frames, "{v}");
    assert_eq!(count(v, "inferred"), s.frames_screened, "{v}");
    let skipped = sum(v, "skipped_because");
    assert_eq!(count(v, "inferred") + skipped, count(v, "decoded"), "{v}");
    if mode == "adaptive" {
        assert_eq!(sum(v, "inferred_because"), count(v, "inferred"), "{v}");
        assert!(count(v, "looked") > 0, "{v}");
    }
}

/// Every event of the full run has one of the adaptive run with the same
/// signature, opening no earlier than 0.5 s before and no later than
/// 1 s after it; and no more events than full rate found.
fn assert_same_events(full: &[Opened], adaptive: &[Opened]) {
    assert!(!full.is_empty(), "the footage should hold events");
    for (signature, t) in full {
        let matched = adaptive
            .iter()
            .any(|(s, a)| s == signature && *a >= t - 0.5 && *a <= t + 1.0);
        assert!(
            matched,
            "{signature} opened at {t:.2} s at full rate; adaptive opened {adaptive:?}"
        );
    }
    assert_eq!(
        full.len(),
        adaptive.len(),
        "full: {full:?}, adaptive: {adaptive:?}"
    );
}

#[test]
fn adaptive_sampling_finds_the_sample_sorties_events_as_full_rate_does() {
    let _turn = take_turns();
    let dir = tempfile::tempdir().unwrap();
    let video = repo().join("tests/data/sample-sortie.mp4");
    let full = screen(&video, dir.path(), "full");
    let adaptive = screen(&video, dir.path(), "adaptive");
    assert_accounted(&full, "full", 265);
    assert_accounted(&adaptive, "adaptive", 265);
    assert_eq!(count(&full.sampling, "inferred"), 265);
    assert_eq!(full.inferred, (0..265).collect::<Vec<u64>>());
    assert_same_events(&full.opened, &adaptive.opened);
    // `screen` samples adaptively by default, and what a batch run infers
    // does not depend on timing: inference on one thread (about half as
    // fast) infers the same frames and opens the same events.
    let default = screen_with(&video, dir.path(), "default", &["--threads", "1"]);
    assert_accounted(&default, "adaptive", 265);
    assert_eq!(default.inferred, adaptive.inferred);
    assert_eq!(default.opened, adaptive.opened);
}

#[test]
fn adaptive_sampling_on_a_generated_sortie_finds_every_event_with_far_fewer_inferences() {
    let _turn = take_turns();
    let dir = tempfile::tempdir().unwrap();
    // A minute of mostly empty sea and road at 25 fps, with an event that
    // comes into view during a pan and one inside sun glitter. Keyframes
    // 1 s apart: quiet stretches are stepped over keyframe by keyframe.
    let status = Command::new(pyeval())
        .arg(repo().join("scripts/make_long_sortie.py"))
        .arg(dir.path())
        .args(["--minutes", "1", "--size", "640x360", "--name", "short"])
        .args(["--events", "during_pan,behind_glitter", "--gop-s", "1"])
        .status()
        .expect("running scripts/make_long_sortie.py");
    assert!(status.success());
    let video = dir.path().join("short.mp4");
    let truth = read_json(&dir.path().join("short.events.json"));
    let frames = truth["frames"].as_u64().unwrap();
    let full = screen(&video, dir.path(), "full");
    let adaptive = screen(&video, dir.path(), "adaptive");
    assert_accounted(&full, "full", frames);
    assert_accounted(&adaptive, "adaptive", frames);
    assert_same_events(&full.opened, &adaptive.opened);
    assert_eq!(full.opened.len(), 2, "{:?}", full.opened);
    let (f, a) = (
        count(&full.sampling, "inferred"),
        count(&adaptive.sampling, "inferred"),
    );
    assert!(2 * a < f, "adaptive inferred {a} of the {f} frames");
    let v = &adaptive.sampling;
    // Quiet stretches were stepped over: accepted keyframe probes, and
    // most of the footage never decoded.
    assert!(
        v["inferred_because"]["keyframe"].as_u64().unwrap_or(0) > 10,
        "{v}"
    );
    assert!(2 * count(v, "not_decoded") > frames, "{v}");
    // Each event was first seen on a probe, which was rejected and sent
    // the stretch before it back through the detector: the events above
    // opened as at full rate all the same.
    assert!(count(v, "probes_discarded") >= 2, "{v}");
    // What is inferred does not depend on timing, with steps too: one
    // inference thread infers the same frames and opens the same events.
    let slow = screen_with(&video, dir.path(), "slow", &["--threads", "1"]);
    assert_eq!(slow.inferred, adaptive.inferred);
    assert_eq!(slow.opened, adaptive.opened);
    assert_eq!(slow.sampling, adaptive.sampling);
}
