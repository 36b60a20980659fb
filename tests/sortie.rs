//! The sample sortie through the real binary: the frames its labels say
//! hold people are the frames flagged, every frame is decoded (including
//! the last ones), timestamps come from pts, sampling and damaged copies
//! behave.

use std::collections::BTreeSet;

use crate::util::{data, jsonl, lookout, read_json, run_dir, stderr};

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

#[test]
fn sortie_flags_the_frames_that_hold_people() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        data("sample-sortie.mp4").to_str().unwrap(),
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

    let events = jsonl(&run.join("events.jsonl"));
    let flagged: BTreeSet<u64> = events
        .iter()
        .map(|e| e["frame_index"].as_u64().unwrap())
        .collect();
    let hits = flagged.intersection(&people).count() as f64;
    let recall = hits / people.len() as f64;
    let precision = hits / flagged.len().max(1) as f64;
    assert!(
        recall >= 0.9,
        "frame recall {recall:.3} ({} of {} person frames)",
        hits,
        people.len()
    );
    assert!(
        precision >= 0.9,
        "frame precision {precision:.3} ({} flagged)",
        flagged.len()
    );

    // Timestamps come from pts: 10 fps, starting at 0.
    for e in &events {
        let (i, t) = (
            e["frame_index"].as_f64().unwrap(),
            e["pts_s"].as_f64().unwrap(),
        );
        assert!((t - i / 10.0).abs() < 1e-6, "frame {i} at {t}s");
        for d in e["detections"].as_array().unwrap() {
            let b: Vec<f64> = d["box"]
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
    assert!(lookout::evidence::manifest::verify(&run).is_empty());
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
                e["frame_index"].as_u64().unwrap() % step,
                0,
                "{flag} {value}: {}",
                e["frame_index"]
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
    assert!(lookout::evidence::manifest::verify(&run).is_empty());
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
                e["frame_index"].as_f64().unwrap(),
                e["pts_s"].as_f64().unwrap(),
            );
            assert!((t - i / 10.0).abs() < 0.011, "{ext}: frame {i} at {t}s");
        }
    }
}
