//! `lookout screen` run as a user runs it: the real binary on temporary
//! folders.

use std::path::Path;

use crate::util::{
    closed_events, fixture, jsonl, lookout, read_json, run_dir, screen_inputs, stderr, steps,
    write_png,
};

/// Every artefact in the manifest exists with the recorded sha256, the
/// hash chain holds, nothing else is in the folder, and the seal is by the
/// tests' key.
pub(crate) fn assert_manifest_holds(run: &Path) {
    let key = crate::util::test_signer().verifying_key();
    let report = lookout::evidence::verify::verify_run(run, &[key]);
    assert!(report.holds(), "{:?}", report.problems);
    let entries = jsonl(&run.join("manifest.jsonl"));
    for e in &entries {
        let path = run.join(e["path"].as_str().unwrap());
        let sha = lookout::digest::sha256_file(&path).unwrap();
        assert_eq!(sha, e["sha256"].as_str().unwrap(), "{}", path.display());
    }
    let listed: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&"run.json") && listed.contains(&"events.jsonl"));
}

#[test]
fn folder_with_a_corrupt_jpeg_exits_2_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(photos.join("sub")).unwrap();
    write_png(&photos.join("a.png"), 64, 64);
    write_png(&photos.join("sub/c.png"), 96, 64);
    // A JPEG cut off after its header.
    let mut jpeg = Vec::new();
    image::RgbImage::from_pixel(64, 64, image::Rgb([1, 2, 3]))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    std::fs::write(photos.join("b.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    let out = dir.path().join("runs");

    let o = lookout(&[
        "screen",
        photos.to_str().unwrap(),
        "--model",
        fixture("yolov8-tiny.onnx").to_str().unwrap(),
        "--classes",
        "person",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("b.jpg"),
        "the error names the corrupt file: {err}"
    );

    let run = run_dir(&out);
    // Each image is a stream of one frame: its event opens at once and
    // closes at the end of the input.
    assert_eq!(
        steps(&run, "open").len(),
        2,
        "both good images raise an event"
    );
    let events = closed_events(&run);
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(e["kind"], "presence");
        assert_eq!(e["close_reason"], "end of input");
        let dir = run.join("events").join(e["event_id"].as_str().unwrap());
        for f in ["frame.jpg", "annotated.jpg", "event.json"] {
            assert!(dir.join(f).is_file(), "{}/{f}", dir.display());
        }
        // The untouched frame keeps the source size.
        let frame = image::open(dir.join("frame.jpg")).unwrap();
        let best = &e["best_frame"];
        assert_eq!(
            (frame.width(), frame.height()),
            (
                best["width"].as_u64().unwrap() as u32,
                best["height"].as_u64().unwrap() as u32
            )
        );
    }
    // The 96x64 image is letterboxed; its boxes come back in its own pixels:
    // the fixture's person at input (15,14)-(25,26) maps to x*1.5, (y-0)*1.5 - pad.
    let wide = events
        .iter()
        .find(|e| e["best_frame"]["width"] == 96)
        .unwrap();
    let person = &wide["best_frame"]["tracks"][0];
    assert_eq!(person["class"], "person");
    let b: Vec<f64> = person["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // 96x64 into 64x64: scale 2/3, resized 64x43 (rounded), pad_y = (64-43)/2 = 10.
    let expect = [
        15.0 * 1.5,
        (14.0 - 10.0) * 1.5,
        25.0 * 1.5,
        (26.0 - 10.0) * 1.5,
    ];
    for (got, want) in b.iter().zip(expect) {
        assert!((got - want).abs() < 1e-3, "{b:?} vs {expect:?}");
    }

    let run_json = read_json(&run.join("run.json"));
    assert_eq!(run_json["status"], "finished");
    assert_eq!(run_json["sources"].as_array().unwrap().len(), 3);
    let bad = run_json["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"].as_str().unwrap().ends_with("b.jpg"))
        .unwrap();
    assert!(bad["error"].as_str().unwrap().contains("b.jpg"));
    assert_eq!(run_json["model"]["sha256"].as_str().unwrap().len(), 64);
    assert!(run_json["sources"][0]["sha256"].as_str().unwrap().len() == 64);
    assert_manifest_holds(&run);
}

#[test]
fn missing_and_non_media_inputs_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("good.png"), 64, 64);
    std::fs::write(dir.path().join("notes.mp4"), "this is not a video").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "nor is this").unwrap();
    let out = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        dir.path().join("good.png").to_str().unwrap(),
        dir.path().join("missing.mp4").to_str().unwrap(),
        dir.path().join("notes.mp4").to_str().unwrap(),
        dir.path().join("notes.txt").to_str().unwrap(),
        "--model",
        fixture("yolov8-tiny.onnx").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--classes",
        "boat",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("missing.mp4: no such file"), "{err}");
    assert!(
        err.contains("cannot open video") && err.contains("notes.mp4"),
        "{err}"
    );
    assert!(
        err.contains("notes.txt is not a supported image or video"),
        "{err}"
    );
    let run = run_dir(&out);
    assert_eq!(steps(&run, "open").len(), 1);
    assert_manifest_holds(&run);
}

#[test]
fn clean_run_exits_0_or_1_with_fail_on_flag() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 64, 64);
    let model = fixture("yolov8-tiny.onnx");
    let args = |out: &str, extra: &[&'static str]| {
        let mut v = vec![
            "screen".to_string(),
            dir.path().join("a.png").to_str().unwrap().to_string(),
        ];
        v.extend([
            "--model".into(),
            model.to_str().unwrap().into(),
            "--out".into(),
            out.into(),
            "--quiet".into(),
        ]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>| lookout(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = dir.path().join("runs");
    let o = run(args(out.to_str().unwrap(), &["--classes", "person"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(args(
        out.to_str().unwrap(),
        &[
            "--classes",
            "person",
            "--fail-on-flag",
            "--run-id",
            "second",
        ],
    ));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // A threshold above every score flags nothing.
    let o = run(args(
        out.to_str().unwrap(),
        &[
            "--classes",
            "person",
            "--conf",
            "0.95",
            "--fail-on-flag",
            "--run-id",
            "third",
        ],
    ));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(jsonl(&out.join("third/events.jsonl")).len(), 0);
}

#[test]
fn bad_models_and_classes_fail_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 64, 64);
    let img = dir.path().join("a.png");
    let out = dir.path().join("runs");
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a model").unwrap();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["--model".into(), garbage.display().to_string()],
            vec!["garbage.onnx"],
        ),
        (
            vec![
                "--model".into(),
                dir.path().join("absent.onnx").display().to_string(),
            ],
            vec!["absent.onnx"],
        ),
        (
            vec![
                "--model".into(),
                fixture("unsupported.onnx").display().to_string(),
            ],
            vec!["unsupported.onnx", "[1, 10]", "[1, 5, 5]"],
        ),
        (
            vec![
                "--model".into(),
                fixture("yolov8-tiny.onnx").display().to_string(),
                "--classes".into(),
                "bicycle".into(),
            ],
            vec!["\"bicycle\"", "neither a role", "person, boat, car"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = vec![
            "screen".to_string(),
            img.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(extra);
        let o = lookout(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: expected {n:?} in {err}");
        }
    }
}

#[test]
fn a_model_of_other_class_names_runs_the_signatures_its_roles_allow() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    write_png(&img, 64, 64);
    let model = fixture("yolov8-tiny.onnx");
    let screen = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "screen",
            img.to_str().unwrap(),
            "--out",
            out,
            "--model",
            model.to_str().unwrap(),
        ];
        args.extend(extra);
        lookout(&args)
    };
    let names = |run: &Path| -> Vec<String> {
        read_json(&run.join("run.json"))["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // A COCO-named model (person, boat, car): `boat` is a vessel, and
    // nothing is a container or a vehicle with an open bed.
    let out = dir.path().join("coco");
    let o = screen(out.to_str().unwrap(), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("people-in-container: no class of the model maps to container or vehicle"),
        "{err}"
    );
    let run = run_dir(&out);
    assert_eq!(names(&run), vec!["overcrowded-vessel"]);
    let model = &read_json(&run.join("run.json"))["model"];
    assert_eq!(
        model["roles"],
        serde_json::json!({"person": "person", "boat": "vessel"})
    );
    assert!(model.get("demo").is_none(), "{model}");
    assert!(!err.contains("synthetic scenes"), "{err}");

    // [roles] makes `car` a vehicle: both defaults run, without `container`.
    let config = dir.path().join("lookout.toml");
    std::fs::write(&config, "[roles]\nCar = \"vehicle\"\n").unwrap();
    let out = dir.path().join("mapped");
    let o = screen(
        out.to_str().unwrap(),
        &["--config", config.to_str().unwrap()],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "people-in-container runs without container: no class of the model maps to it"
        ),
        "{err}"
    );
    let run = run_dir(&out);
    assert_eq!(
        names(&run),
        vec!["people-in-container", "overcrowded-vessel"]
    );
    let record = read_json(&run.join("run.json"));
    assert_eq!(
        record["signatures"][0]["config"]["containers"],
        serde_json::json!(["vehicle"])
    );
    assert_eq!(record["model"]["roles"]["car"], "vehicle");

    // A role that is no role is a config error that names it.
    std::fs::write(&config, "[roles]\ncar = \"truck\"\n").unwrap();
    let o = screen(
        dir.path().join("bad").to_str().unwrap(),
        &["--config", config.to_str().unwrap()],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("roles.\"car\" = \"truck\" is not a role"),
        "{err}"
    );
}

#[test]
fn the_demo_model_warns_that_it_knows_only_synthetic_scenes() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    write_png(&img, 64, 64);
    let out = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        img.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("trained on synthetic scenes only"), "{err}");
    let record = read_json(&run_dir(&out).join("run.json"));
    assert_eq!(record["model"]["demo"], true);
    assert_eq!(record["model"]["roles"]["vessel"], "vessel");
}

#[test]
fn config_file_is_applied_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 64, 64);
    let config = dir.path().join("lookout.toml");
    std::fs::write(
        &config,
        "[detect]\nconf = 0.65\n[[signature]]\nkind = \"presence\"\nclasses = [\"boat\", \"car\"]\n",
    )
    .unwrap();
    let out = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        dir.path().join("a.png").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--model",
        fixture("yolov8-tiny.onnx").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = run_dir(&out);
    let run_json = read_json(&run.join("run.json"));
    assert_eq!(run_json["config"]["detect"]["conf"], 0.65);
    let events = closed_events(&run);
    // conf 0.65 keeps person 0.9 and boat 0.7, drops car 0.6; only boat
    // matters to the signature, so only the boat is in its event.
    assert_eq!(events.len(), 1);
    let classes: Vec<&str> = events[0]["best_frame"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, vec!["boat"]);
    assert_eq!(events[0]["reason"], "1 boat >= 0.65");
    assert_eq!(events[0]["signature_config"]["classes"][0], "boat");
    assert_eq!(
        events[0]["signature_config_sha256"].as_str().unwrap().len(),
        64
    );
}

#[test]
fn missing_onnx_runtime_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 64, 64);
    let o = lookout(&[
        "screen",
        dir.path().join("a.png").to_str().unwrap(),
        "--model",
        fixture("yolov8-tiny.onnx").to_str().unwrap(),
        "--ort-lib",
        dir.path().join("libonnxruntime.so").to_str().unwrap(),
        "--out",
        dir.path().join("runs").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--ort-lib")
            && err.contains("scripts/setup.sh")
            && err.contains("onnxruntime==1.31.1"),
        "{err}"
    );
}

#[test]
fn batches_across_inputs_give_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for (i, (w, h)) in [(64, 64), (96, 64), (64, 80), (50, 50), (128, 64)]
        .iter()
        .enumerate()
    {
        write_png(&photos.join(format!("{i}.png")), *w, *h);
    }
    let config = dir.path().join("lookout.toml");
    std::fs::write(&config, "[model.preprocess]\npad_value = 0\n").unwrap();
    let run = |batch: &str, jobs: &str| {
        let out = dir.path().join(format!("runs-{batch}-{jobs}"));
        let o = lookout(&[
            "screen",
            photos.to_str().unwrap(),
            "--model",
            fixture("yolov8-dynamic.onnx").to_str().unwrap(),
            "--imgsz",
            "64",
            "--config",
            config.to_str().unwrap(),
            "--batch",
            batch,
            "--jobs",
            jobs,
            "--classes",
            "person,boat,car",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let run = run_dir(&out);
        let mut events: Vec<(String, serde_json::Value)> = closed_events(&run)
            .into_iter()
            .map(|e| {
                (
                    format!("{} {}", e["source"]["path"].as_str().unwrap(), e["group"]),
                    e["best_frame"]["tracks"].clone(),
                )
            })
            .collect();
        events.sort_by(|a, b| a.0.cmp(&b.0));
        (read_json(&run.join("run.json")), events)
    };
    let (single_run, single) = run("1", "1");
    let (batched_run, batched) = run("4", "2");
    assert_eq!(single.len(), 15, "person, boat and car in each of 5 images");
    assert_eq!(single, batched);
    assert_eq!(
        single_run["model"]["preprocess"]["pad_value"], 0,
        "config override applied and recorded"
    );
    let calls = |r: &serde_json::Value| r["summary"]["inference_calls"].as_u64().unwrap();
    assert_eq!(calls(&single_run), 5);
    assert!(
        calls(&batched_run) < 5,
        "frames were batched: {} calls",
        calls(&batched_run)
    );
}

#[test]
fn tiling_detects_per_tile_and_maps_boxes_back_to_the_frame() {
    // The fixture model sees a person at (15,14)-(25,26) of every 64x64
    // input. A 128x64 image cut into two 64 px tiles gives two people, at
    // x 15 and x 79 of the image; without tiling, one (letterboxed).
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("wide.png"), 128, 64);
    let people = |extra: &[&str], run: &str| -> Vec<Vec<f64>> {
        let out = dir.path().join(run);
        let mut args = vec![
            "screen",
            dir.path()
                .join("wide.png")
                .to_str()
                .unwrap()
                .to_owned()
                .leak(),
            "--model",
            fixture("yolov8-tiny.onnx")
                .to_str()
                .unwrap()
                .to_owned()
                .leak(),
            "--classes",
            "person",
            "--out",
            out.to_str().unwrap().to_owned().leak(),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let o = lookout(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let events = closed_events(&run_dir(&out));
        assert_eq!(events.len(), 1);
        let mut boxes: Vec<Vec<f64>> = events[0]["best_frame"]["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                t["box"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            })
            .collect();
        boxes.sort_by(|a, b| a[0].total_cmp(&b[0]));
        boxes
    };
    assert_eq!(people(&[], "whole").len(), 1);
    let tiled = people(&["--tile", "64", "--overlap", "0"], "tiled");
    assert_eq!(
        tiled,
        vec![vec![15.0, 14.0, 25.0, 26.0], vec![79.0, 14.0, 89.0, 26.0]]
    );
    // `--tile` alone uses the model's input size (64 here).
    assert_eq!(people(&["--tile", "--overlap", "0"], "default-size"), tiled);
}

#[test]
fn truncated_jpeg_is_an_error_and_the_whole_one_is_screened() {
    let dir = tempfile::tempdir().unwrap();
    let whole = crate::util::data("grace_hopper.jpg");
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() * 4 / 10]).unwrap();
    let out = dir.path().join("runs");
    let (code, err) = screen_inputs(&[&cut, &whole], &out, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("cut.jpg") && l.contains("truncated")),
        "{err}"
    );
    let run = run_dir(&out);
    let sources = read_json(&run.join("run.json"))["sources"].clone();
    let whole_source = sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"].as_str().unwrap().ends_with("grace_hopper.jpg"))
        .unwrap();
    assert!(whole_source["error"].is_null(), "{whole_source}");
    assert_eq!(whole_source["frames_screened"], 1, "{whole_source}");
    // Only the whole image raised an event; the cut one's grey half none.
    assert!(closed_events(&run).iter().all(|e| e["source"]["path"]
        .as_str()
        .unwrap()
        .ends_with("grace_hopper.jpg")));
}

#[test]
fn truncated_png_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("whole.png");
    write_png(&png, 64, 64);
    let bytes = std::fs::read(&png).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, err) = screen_inputs(&[&cut, &png], &dir.path().join("runs"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("cut.png") && l.contains("truncated")),
        "{err}"
    );
}

#[test]
fn png_declaring_a_huge_size_gives_the_size_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, crate::util::png_header_only(100_000, 100_000)).unwrap();
    let good = dir.path().join("good.png");
    write_png(&good, 64, 64);
    let (code, err) = screen_inputs(&[&huge, &good], &dir.path().join("runs"), &[]);
    assert_eq!(code, Some(2), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("huge.png"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("100000 × 100000") && line.contains("limit of 512.0 MiB"),
        "{line}"
    );
    assert!(!err.contains("Memory limit exceeded"), "{err}");
}

#[test]
fn fifos_and_devices_are_not_regular_files_and_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("feed.jpg");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("running mkfifo");
    assert!(made.success());
    // A FIFO inside a folder walk is reported as well.
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let inner = folder.join("inner.mp4");
    assert!(std::process::Command::new("mkfifo")
        .arg(&inner)
        .status()
        .unwrap()
        .success());
    let good = dir.path().join("good.png");
    write_png(&good, 64, 64);
    let zero = Path::new("/dev/zero");
    // Opening either would hang (the FIFO) or never end (/dev/zero); the
    // run must finish on its own.
    let (code, err) = screen_inputs(
        &[&fifo, zero, &folder, &good],
        &dir.path().join("runs"),
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("feed.jpg is not a regular file (a FIFO)"),
        "{err}"
    );
    assert!(
        err.contains("inner.mp4 is not a regular file (a FIFO)"),
        "{err}"
    );
    assert!(
        err.contains("/dev/zero is not a regular file (a character device)"),
        "{err}"
    );
    assert!(!err.contains("no such file"), "{err}");
}

#[test]
fn a_missing_config_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.png");
    write_png(&good, 64, 64);
    let config = dir.path().join("absent.toml");
    let (code, err) = screen_inputs(
        &[&good],
        &dir.path().join("runs"),
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("absent.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn piped_logs_have_no_colour_codes_and_no_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG with a world file but no CRS logs a warning; a missing input
    // logs an error.
    let placed = dir.path().join("placed.png");
    write_png(&placed, 64, 64);
    std::fs::write(dir.path().join("placed.pgw"), "1\n0\n0\n-1\n100\n100\n").unwrap();
    let missing = dir.path().join("missing.png");
    let (code, err) = screen_inputs(&[&placed, &missing], &dir.path().join("runs"), &["-v"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("WARN") && err.contains("no CRS"), "{err}");
    assert!(err.contains("missing.png: no such file"), "{err}");
    assert!(!err.contains("\x1b["), "{err:?}");
    assert!(err.lines().all(|l| !l.trim().is_empty()), "{err:?}");
}
