//! Bad flags and bad feeds end in a clear message, never in a panic, an
//! out-of-memory kill or a feed retried forever (issue 17's probe).

use std::path::Path;
use std::process::Command;

use crate::util::*;

/// Runs lookout and expects exit code 2 with `needle` in its message, and
/// no run folder under `out`.
fn refused(args: &[&str], out: &Path, needle: &str) {
    let o = lookout_command()
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let left = std::fs::read_dir(out).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "{args:?} left a run folder behind");
}

#[test]
fn absurd_sizes_and_counts_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let image = data("grace_hopper.jpg");
    let image = image.to_str().unwrap();
    refused(
        &["screen", image, "--tile", "0"],
        &out,
        "below the smallest tile, 64 px",
    );
    refused(
        &["screen", image, "--tile", "1"],
        &out,
        "below the smallest tile, 64 px",
    );
    refused(&["screen", image, "--imgsz", "0"], &out, "model.imgsz");
    refused(&["screen", image, "--jobs", "0"], &out, "--jobs 0");
    refused(
        &["screen", image, "--threads", "100000"],
        &out,
        "100000 threads",
    );
    refused(
        &["watch", image, "--tile", "3"],
        &out,
        "below the smallest tile",
    );
    for bad in ["inf", "nan", "1e30", "-1"] {
        let o = lookout_command()
            .args(["watch", image, "--duration", bad, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--duration {bad}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    // A config that asks for a 1-pixel tile is refused the same way.
    let config = dir.path().join("lookout.toml");
    std::fs::write(&config, "[tile]\nsize = 1\n").unwrap();
    refused(
        &["screen", image, "-c", config.to_str().unwrap()],
        &out,
        "tile.size",
    );
}

#[test]
fn a_64_pixel_tile_over_a_photo_finishes() {
    // Hundreds of tiles go through in bounded parts (see detect::step).
    let dir = tempfile::tempdir().unwrap();
    let o = lookout_command()
        .arg("screen")
        .arg(data("grace_hopper.jpg"))
        .args(["--tile", "64", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let run = read_json(&run_dir(dir.path()).join("run.json"));
    assert_eq!(run["status"], "finished");
}

fn watch_file(
    feed: &Path,
    out: &Path,
    extra: &[&str],
) -> (std::process::Output, serde_json::Value) {
    let o = lookout_command()
        .arg("watch")
        .arg(feed)
        .args(["--quiet", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let run = read_json(&run_dir(out).join("run.json"));
    (o, run)
}

#[test]
fn file_feeds_end_or_fail_once_and_loop_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    // Missing: refused at start-up, before any run folder.
    refused(
        &["watch", dir.path().join("nope.mp4").to_str().unwrap()],
        &dir.path().join("none"),
        "a file that exists",
    );
    // Text named like a video: the feed fails at once, it is not retried.
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "not a video\n").unwrap();
    let (o, run) = watch_file(&text, &dir.path().join("text"), &["--duration", "30"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let feed = &run["feeds"][0];
    assert_eq!(feed["reconnects"], 0, "{feed}");
    assert!(
        feed["error"].as_str().unwrap().contains("notes.mp4"),
        "{feed}"
    );
    assert_eq!(run["status"], "finished");
    // Cut short: its frames are screened once, the damage is named, and it
    // is not replayed (a replay repeated its events).
    let bytes = std::fs::read(data("sample-sortie.mp4")).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 4]).unwrap();
    let (o, run) = watch_file(&cut, &dir.path().join("cut"), &["--duration", "60"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let feed = &run["feeds"][0];
    assert_eq!(feed["reconnects"], 0, "{feed}");
    assert!(
        feed["error"].as_str().unwrap().contains("damaged"),
        "{feed}"
    );
    let frames = feed["frames_in"].as_u64().unwrap();
    assert!(frames > 0 && frames < 265, "{feed}");
    let opened = steps(&run_dir(&dir.path().join("cut")), "open").len();
    assert!(opened <= 1, "{opened} events from one pass of a 6 s cut");
    // --loop plays a finished file again.
    let short = dir.path().join("short.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args(["-t", "1", "-c", "copy"])
        .arg(&short)
        .status()
        .unwrap();
    assert!(status.success());
    let (o, run) = watch_file(&short, &dir.path().join("once"), &["--duration", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let once = run["feeds"][0]["frames_in"].as_u64().unwrap();
    let (o, run) = watch_file(
        &short,
        &dir.path().join("looped"),
        &["--duration", "4", "--loop"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let looped = run["feeds"][0]["frames_in"].as_u64().unwrap();
    assert!(looped > once + 5, "looped {looped}, once {once}");
}

#[test]
fn eval_on_a_video_shorter_than_its_labels_says_how_many_images_had_no_frame() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("first-10s.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args(["-t", "10", "-c", "copy"])
        .arg(&short)
        .status()
        .unwrap();
    assert!(status.success());
    let out = dir.path().join("report");
    let o = lookout(&[
        "eval",
        "--gt",
        data("sample-sortie.coco.json").to_str().unwrap(),
        "--video",
        short.to_str().unwrap(),
        "--model",
        repo().join("models/lookout-demo.onnx").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_json(&out.join("report.json"));
    let gt = &r["detector"]["ground_truth"];
    assert_eq!(gt["images"], 265);
    let missing = gt["images_without_frame"].as_u64().unwrap();
    // 10 s at 10 fps: 100 frames of the 265 labelled.
    assert!((160..=166).contains(&missing), "{gt}");
    assert!(
        stderr(&o).contains("had no screened frame"),
        "{}",
        stderr(&o)
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(&format!(
        "{missing} of the 265 ground-truth images had no screened frame"
    )));
}

#[test]
fn a_video_damaged_in_the_middle_is_screened_to_its_end_and_the_gap_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data("sample-sortie.mp4")).unwrap();
    // 100 kB of noise four fifths in: the H.264 decoder loses about 3 s of
    // the open-sea segment (19.5–23 s), then resynchronises.
    let at = bytes.len() * 4 / 5;
    let mut x: u32 = 0x9e37_79b9;
    for b in &mut bytes[at..at + 100_000] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let damaged = dir.path().join("damaged.mp4");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = dir.path().join("out");
    let o = lookout_command()
        .arg("screen")
        .arg(&damaged)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let run = read_json(&run_dir(&out).join("run.json"));
    let src = &run["sources"][0];
    let gaps = src["gaps"].as_array().expect("the gap is recorded");
    assert!(!gaps.is_empty(), "{src}");
    let lost: u64 = gaps.iter().map(|g| g["frames"].as_u64().unwrap()).sum();
    // The frames lost are estimated from the times either side and the
    // frame rate, so they add up to the whole within a frame or two.
    let sampling = &src["sampling"];
    let total =
        sampling["decoded"].as_u64().unwrap() + sampling["not_decoded"].as_u64().unwrap() + lost;
    assert!((263..=267).contains(&total), "{src}");
    assert_eq!(run["summary"]["frames_lost"], lost);
    assert!(err.contains("frame(s) lost in"), "{err}");
    // Both labelled events are still found, and the frames after the gap
    // were screened (the road segment starts at 23 s).
    let events = closed_events(&run_dir(&out));
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"containment") && kinds.contains(&"overcrowding"),
        "{kinds:?}"
    );
    let to_s = gaps.last().unwrap()["to_s"].as_f64().unwrap();
    assert!(to_s < 26.4, "{gaps:?}");
}
