//! The sample sortie through the real binary: the trafficking signatures
//! fire on the scenes its labels say and nowhere else, every frame is
//! decoded (including the last ones), timestamps come from pts, sampling
//! and damaged copies behave.

use std::collections::BTreeSet;

use crate::util::{closed_events, data, jsonl, lookout, read_json, run_dir, stderr, steps};

/// Frame indices whose labels contain at least one person, and the frame count.
fn labelled_person_frames() -> (BTreeSet<u64>, usize) {
    let coco = read_json(&data("sample-sortie.coco.json"));
    let person_id = coco["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "person")
        .unwrap()["id"]
        .clone();
    let frames = coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["category_id"] == person_id)
        .map(|a| a["image_id"].as_u64().unwrap())
        .collect();
    (frames, coco["images"].as_array().unwrap().len())
}

/// A labelled event: signature kind, start_s, end_s (exclusive).
type Labelled = (String, f64, f64);

/// Ground-truth events and distractor spans of the sortie.
fn ground_truth() -> (Vec<Labelled>, Vec<(f64, f64)>) {
    let gt = read_json(&data("sample-sortie.events.json"));
    let span =
        |e: &serde_json::Value| (e["start_s"].as_f64().unwrap(), e["end_s"].as_f64().unwrap());
    let events = gt["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (a, b) = span(e);
            (e["signature"].as_str().unwrap().to_owned(), a, b)
        })
        .collect();
    let distractors = gt["distractors"]
        .as_array()
        .unwrap()
        .iter()
        .map(span)
        .collect();
    (events, distractors)
}

/// Screens the sortie with the default signatures and checks that each
/// labelled event is found once, by the right signature, over the right
/// span, and that nothing fires on the distractor scenes.
fn assert_signatures_match_labels(extra: &[&str], tolerance_s: f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let mut args: Vec<String> = vec![
        "screen".into(),
        data("sample-sortie.mp4").to_str().unwrap().to_owned(),
        "--out".into(),
        out.to_str().unwrap().to_owned(),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = lookout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
    let run = run_dir(&out);
    let (truth, distractors) = ground_truth();
    let events = closed_events(&run);
    let found: Vec<(String, f64, f64)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["start_s"].as_f64().unwrap(),
                e["end_s"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found.len(),
        truth.len(),
        "{extra:?}: one event per labelled event, none elsewhere: {found:?}"
    );
    for (kind, start, end) in &truth {
        let e = found
            .iter()
            .find(|f| &f.0 == kind && f.1 < *end && f.2 >= *start)
            .unwrap_or_else(|| {
                panic!("{extra:?}: no {kind} event over {start}-{end} s: {found:?}")
            });
        assert!(
            (e.1 - start).abs() <= tolerance_s && (e.2 - (end - 0.1)).abs() <= tolerance_s,
            "{extra:?}: {kind} spans {}-{} s, labelled {start}-{end} s",
            e.1,
            e.2
        );
    }
    for (kind, start, end) in &found {
        for (a, b) in &distractors {
            assert!(
                !(start < b && end >= a),
                "{extra:?}: {kind} event {start}-{end} s overlaps the distractor at {a}-{b} s"
            );
        }
    }
    // The open line comes once the pattern has held for min_duration (1 s).
    for open in steps(&run, "open") {
        let delay = open["at"]["pts_s"].as_f64().unwrap() - open["start_s"].as_f64().unwrap();
        assert!(
            (0.99..1.6).contains(&delay),
            "{extra:?}: opened {delay} s after its start"
        );
    }
    for e in &events {
        let best = &e["best_frame"];
        let tracks = best["tracks"].as_array().unwrap();
        assert_eq!(tracks.iter().filter(|t| t["role"] == "anchor").count(), 1);
        assert_eq!(tracks.len() as u64, best["count"].as_u64().unwrap() + 1);
        assert!(best["count"].as_u64().unwrap() >= 5, "{best}");
        assert_eq!(e["model"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(e["signature_config_sha256"].as_str().unwrap().len(), 64);
        if e["kind"] == "overcrowding" {
            assert!(best["density_note"]
                .as_str()
                .unwrap()
                .contains("no ground sample distance"));
        }
        let frame = image::open(run.join(e["artefacts"]["frame"].as_str().unwrap())).unwrap();
        assert_eq!((frame.width(), frame.height()), (1280, 720));
    }
    crate::screen::assert_manifest_holds(&run);
}

#[test]
fn sortie_trafficking_signatures_fire_where_labelled_and_nowhere_else() {
    assert_signatures_match_labels(&[], 0.25);
}

#[test]
fn sortie_signatures_hold_when_sampled_at_stride_5() {
    // Every 5th frame (0.5 s apart): the tracker predicts over pts gaps.
    assert_signatures_match_labels(&["--stride", "5"], 0.6);
}

#[test]
fn sortie_presence_covers_every_frame_with_people() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        data("sample-sortie.mp4").to_str().unwrap(),
        "--sample",
        "full",
        "--classes",
        "person",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = run_dir(&out);
    let run_json = read_json(&run.join("run.json"));
    let (people, n_frames) = labelled_person_frames();
    assert_eq!(
        run_json["summary"]["frames_screened"], n_frames as u64,
        "every frame is decoded, the last ones too"
    );
    // Presence opens at the first sighting; its events' spans cover the
    // labelled person frames (a scene cut ends one span, a lapse longer
    // than the grace period another).
    let spans: Vec<(u64, u64)> = closed_events(&run)
        .iter()
        .map(|e| {
            (
                e["start_frame"].as_u64().unwrap(),
                e["last_frame"].as_u64().unwrap(),
            )
        })
        .collect();
    let covered = people
        .iter()
        .filter(|&&f| spans.iter().any(|&(a, b)| a <= f && f <= b))
        .count() as f64;
    assert!(
        covered / people.len() as f64 >= 0.95,
        "{covered} of {} person frames covered by {spans:?}",
        people.len()
    );
    // Timestamps come from pts: 10 fps, starting at 0.
    for e in jsonl(&run.join("events.jsonl")) {
        let (i, t) = (
            e["at"]["frame_index"].as_f64().unwrap(),
            e["at"]["pts_s"].as_f64().unwrap(),
        );
        assert!((t - i / 10.0).abs() < 1e-6, "frame {i} at {t}s");
    }
    for e in closed_events(&run) {
        for t in e["best_frame"]["tracks"].as_array().unwrap() {
            let b: Vec<f64> = t["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(
                b[0] >= 0.0
                    && b[1] >= 0.0
                    && b[2] <= 1280.0
                    && b[3] <= 720.0
                    && b[0] < b[2]
                    && b[1] < b[3],
                "{b:?}"
            );
        }
    }
    crate::screen::assert_manifest_holds(&run);
}

#[test]
fn stride_and_fps_sample_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let (_, n_frames) = labelled_person_frames();
    for (flag, value, expect) in [
        ("--stride", "10", n_frames.div_ceil(10)),
        ("--fps", "2", n_frames.div_ceil(5)),
    ] {
        let out = dir.path().join(flag.trim_start_matches('-'));
        let o = lookout(&[
            "screen",
            data("sample-sortie.mp4").to_str().unwrap(),
            flag,
            value,
            "--sample",
            "full",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let run = run_dir(&out);
        assert_eq!(
            read_json(&run.join("run.json"))["summary"]["frames_screened"],
            expect as u64,
            "{flag} {value}"
        );
        let step = if flag == "--stride" { 10 } else { 5 };
        for e in jsonl(&run.join("events.jsonl")) {
            assert_eq!(
                e["at"]["frame_index"].as_u64().unwrap() % step,
                0,
                "{flag} {value}: {}",
                e["at"]["frame_index"]
            );
        }
    }
}

#[test]
fn truncated_sortie_fails_with_its_name_and_keeps_other_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("sample-sortie.mp4")).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        cut.to_str().unwrap(),
        data("sample-sortie.mp4").to_str().unwrap(),
        "--stride",
        "25",
        "--sample",
        "full",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cut.mp4"), "{err}");
    let run = run_dir(&out);
    let run_json = read_json(&run.join("run.json"));
    let sources = run_json["sources"].as_array().unwrap();
    assert!(sources[0]["error"].as_str().unwrap().contains("cut.mp4"));
    assert!(sources[1]["error"].is_null());
    assert_eq!(sources[1]["frames_screened"], 11);
    crate::screen::assert_manifest_holds(&run);
}

#[test]
fn common_containers_decode_with_pts_from_zero() {
    // Remux (no re-encode) the sortie into each container with the ffmpeg
    // command that scripts/setup.sh installs.
    let dir = tempfile::tempdir().unwrap();
    for ext in ["mkv", "mov", "ts", "avi"] {
        let clip = dir.path().join(format!("clip.{ext}"));
        let status = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-i"])
            .arg(data("sample-sortie.mp4"))
            .args(["-c", "copy"])
            .arg(&clip)
            .status()
            .expect("ffmpeg is installed by scripts/setup.sh");
        assert!(status.success(), "remux to {ext}");
        let out = dir.path().join(format!("runs-{ext}"));
        let o = lookout(&[
            "screen",
            clip.to_str().unwrap(),
            "--classes",
            "person",
            "--stride",
            "5",
            "--sample",
            "full",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert_eq!(o.status.code(), Some(0), "{ext}: {}", stderr(&o));
        let run = run_dir(&out);
        let (_, n_frames) = labelled_person_frames();
        let screened = read_json(&run.join("run.json"))["summary"]["frames_screened"]
            .as_u64()
            .unwrap();
        assert_eq!(
            screened,
            n_frames.div_ceil(5) as u64,
            "{ext}: every 5th of {n_frames} frames"
        );
        let events = jsonl(&run.join("events.jsonl"));
        assert!(
            !events.is_empty(),
            "{ext}: the open container's people are flagged"
        );
        for e in &events {
            let (i, t) = (
                e["at"]["frame_index"].as_f64().unwrap(),
                e["at"]["pts_s"].as_f64().unwrap(),
            );
            assert!((t - i / 10.0).abs() < 0.011, "{ext}: frame {i} at {t}s");
        }
    }
}
