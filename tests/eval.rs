//! `lookout eval` against the reference: every generated case of
//! `scripts/make_eval_cases.py` (crowd regions, empty images, images without
//! predictions, more than 100 detections, ties, every area range, gt id 0,
//! unknown categories) must give pycocotools' twelve stats to 1e-6.
//! pycocotools runs from the virtual environment `scripts/setup.sh` makes in
//! `.deps/pyeval`. The TIDE error breakdown of the same cases must equal
//! tidecv's, stored in `tests/data/eval/tide-tidecv.json` by
//! `scripts/tide_reference.py` (tidecv is not installed for the tests).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{lookout, pyeval, read_json, repo, stderr};

fn reference(gt: &Path, results: &Path, max_dets: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new(pyeval());
    cmd.arg(repo().join("scripts/coco_reference.py"))
        .arg(gt)
        .arg(results);
    if let Some(n) = max_dets {
        cmd.args(["--max-dets", n]);
    }
    let o = cmd.output().expect("running coco_reference.py");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn coco_stats_equal_pycocotools_on_generated_cases() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    for seed in ["0", "1"] {
        let status = Command::new(pyeval())
            .arg(repo().join("scripts/make_eval_cases.py"))
            .arg(&cases)
            .args(["--seed", seed])
            .status()
            .unwrap();
        assert!(status.success());
        let mut names: Vec<PathBuf> = std::fs::read_dir(&cases)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("gt.json").is_file())
            .collect();
        names.sort();
        assert!(names.len() >= 12, "{names:?}");
        let mut failures = Vec::new();
        for case in &names {
            let max_dets = std::fs::read_to_string(case.join("max_dets"))
                .ok()
                .map(|s| s.trim().to_owned());
            let out = dir.path().join("out").join(case.file_name().unwrap());
            let (gt, results) = (case.join("gt.json"), case.join("results.json"));
            let mut args = vec![
                "eval".to_string(),
                "--gt".into(),
                gt.display().to_string(),
                "--predictions".into(),
                results.display().to_string(),
                "--out".into(),
                out.display().to_string(),
                "--quiet".into(),
            ];
            if let Some(n) = &max_dets {
                args.extend(["--max-dets".into(), n.clone()]);
            }
            let o = lookout(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}: {}",
                case.display(),
                stderr(&o)
            );
            let ours = read_json(&out.join("report.json"))["coco"].clone();
            let theirs = reference(&gt, &results, max_dets.as_deref())["stats"].clone();
            for name in [
                "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm",
                "ARl",
            ] {
                let (a, b) = (ours[name].as_f64().unwrap(), theirs[name].as_f64().unwrap());
                if (a - b).abs() > 1e-6 {
                    failures.push(format!(
                        "seed {seed} {}: {name} lookout {a} pycocotools {b}",
                        case.file_name().unwrap().to_string_lossy()
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
        std::fs::remove_dir_all(&cases).unwrap();
    }
}

/// The generated cases of `seed` in `dir`, by name.
fn generated_cases(dir: &Path, seed: &str) -> Vec<PathBuf> {
    let status = Command::new(pyeval())
        .arg(repo().join("scripts/make_eval_cases.py"))
        .arg(dir)
        .args(["--seed", seed])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("gt.json").is_file())
        .collect();
    names.sort();
    names
}

#[test]
fn tide_breakdown_equals_tidecv_on_generated_cases() {
    use sha2::{Digest, Sha256};
    let expected = read_json(&repo().join("tests/data/eval/tide-tidecv.json"));
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    for seed in ["0", "1"] {
        let cases = dir.path().join(format!("cases{seed}"));
        let names = generated_cases(&cases, seed);
        assert!(names.len() >= 15, "{names:?}");
        for case in &names {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            let want = &expected["seeds"][seed][&name];
            assert!(
                want.is_object(),
                "seed {seed} {name}: no tidecv figures; regenerate tests/data/eval/tide-tidecv.json with scripts/tide_reference.py --cases"
            );
            let max_dets = std::fs::read_to_string(case.join("max_dets"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "100".into());
            let mut h = Sha256::new();
            h.update(std::fs::read(case.join("gt.json")).unwrap());
            h.update(std::fs::read(case.join("results.json")).unwrap());
            h.update(max_dets.as_bytes());
            assert_eq!(
                want["sha256"].as_str(),
                Some(hex::encode(h.finalize()).as_str()),
                "seed {seed} {name}: the generated case changed; regenerate tests/data/eval/tide-tidecv.json with scripts/tide_reference.py --cases"
            );
            let out = dir.path().join("out").join(format!("{seed}-{name}"));
            let o = lookout(&[
                "eval",
                "--gt",
                case.join("gt.json").to_str().unwrap(),
                "--predictions",
                case.join("results.json").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--max-dets",
                &max_dets,
                "--quiet",
            ]);
            assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
            let ours = read_json(&out.join("report.json"))["detector"]["errors"].clone();
            let mut pairs = vec![("ap50".to_string(), &ours["ap50"], &want["ap50"])];
            for kind in [
                "classification",
                "localisation",
                "both",
                "duplicate",
                "background",
                "missed",
            ] {
                let (a, b) = (&ours["main"][kind], &want["main"][kind]);
                pairs.push((format!("{kind} dAP"), &a["dap"], &b["dap"]));
                if a["count"] != b["count"] {
                    failures.push(format!(
                        "seed {seed} {name}: {kind} count lookout {} tidecv {}",
                        a["count"], b["count"]
                    ));
                }
            }
            for special in ["false_positives", "false_negatives"] {
                pairs.push((
                    special.to_string(),
                    &ours["special"][special],
                    &want["special"][special],
                ));
            }
            for (what, a, b) in pairs {
                // tidecv divides by zero where a fix leaves no class (null).
                let Some(b) = b.as_f64() else { continue };
                let a = a.as_f64().unwrap_or(f64::NAN);
                compared += 1;
                if a.is_nan() || (a - b).abs() > 1e-9 {
                    failures.push(format!("seed {seed} {name}: {what} lookout {a} tidecv {b}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(compared >= 250, "{compared}");
}

#[test]
fn largest_errors_page_crops_the_worst_errors() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png"] {
        crate::util::write_png(&dir.path().join(name), 64, 64);
    }
    let gt = dir.path().join("gt.json");
    std::fs::write(
        &gt,
        serde_json::to_vec(&serde_json::json!({
            "images": [
                {"id": 1, "file_name": "a.png", "width": 64, "height": 64},
                {"id": 2, "file_name": "b.png", "width": 64, "height": 64}
            ],
            "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "boat"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0},
                {"id": 2, "image_id": 2, "category_id": 2, "bbox": [30, 30, 20, 20], "area": 400, "iscrowd": 0}
            ]
        }))
        .unwrap(),
    )
    .unwrap();
    // The person is found and also called a boat; the boat is missed; a
    // person is seen where there is nothing.
    let preds = dir.path().join("preds.json");
    std::fs::write(
        &preds,
        br#"[{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
            {"image_id": 1, "category_id": 2, "bbox": [11, 10, 20, 20], "score": 0.8},
            {"image_id": 2, "category_id": 1, "bbox": [0, 0, 8, 8], "score": 0.7}]"#,
    )
    .unwrap();
    let out = dir.path().join("report");
    let o = lookout(&[
        "eval",
        "--gt",
        gt.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let errors = read_json(&out.join("report.json"))["detector"]["errors"].clone();
    assert_eq!(errors["main"]["classification"]["count"], 1, "{errors}");
    assert_eq!(errors["main"]["background"]["count"], 1, "{errors}");
    assert_eq!(errors["main"]["missed"]["count"], 1, "{errors}");
    let fps = errors["worst_false_positives"].as_array().unwrap();
    assert_eq!(fps.len(), 2);
    assert_eq!(fps[0]["kind"], "classification", "the highest score first");
    assert_eq!(errors["worst_false_negatives"][0]["image_id"], 2);
    let page = std::fs::read_to_string(out.join("largest_errors.html")).unwrap();
    for crop in ["fp-01.jpg", "fp-02.jpg", "fn-01.jpg"] {
        let path = out.join("largest_errors").join(crop);
        let img = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(img.width() <= 160 && img.height() <= 160);
        assert!(
            page.contains(&format!("src=\"largest_errors/{crop}\"")),
            "{page}"
        );
    }
    assert!(!page.contains("No crops"), "{page}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Errors (TIDE)") && md.contains("| classification |"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<a href=\"largest_errors.html\">"), "{html}");

    // Without the images, the page says so and links no crops.
    std::fs::remove_file(dir.path().join("b.png")).unwrap();
    let o = lookout(&[
        "eval",
        "--gt",
        gt.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(out.join("largest_errors.html")).unwrap();
    assert!(
        page.contains("Some of the crops could not be made") && page.contains("b.png:"),
        "names the missing image: {page}"
    );
    assert!(!page.contains("fn-01.jpg"), "{page}");
    assert!(
        !out.join("largest_errors/fn-01.jpg").exists(),
        "no stale crop"
    );
    assert!(out.join("largest_errors/fp-01.jpg").is_file());
}

#[test]
fn eval_writes_reports_and_compares_runs() {
    let dir = tempfile::tempdir().unwrap();
    let gt = repo().join("tests/data/eval/coco-small.json");
    let gt_json = read_json(&gt);
    // Predictions: every ground-truth box, and one false positive.
    let mut preds: Vec<serde_json::Value> = gt_json["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["iscrowd"].as_u64().unwrap_or(0) == 0)
        .map(|a| serde_json::json!({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}))
        .collect();
    let perfect = dir.path().join("perfect.json");
    std::fs::write(&perfect, serde_json::to_vec(&preds).unwrap()).unwrap();
    preds.push(serde_json::json!({"image_id": gt_json["images"][0]["id"], "category_id": gt_json["categories"][0]["id"], "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.95}));
    let noisy = dir.path().join("noisy.json");
    std::fs::write(&noisy, serde_json::to_vec(&preds).unwrap()).unwrap();
    for (name, file) in [("a", &perfect), ("b", &noisy)] {
        let out = dir.path().join(name);
        let o = lookout(&[
            "eval",
            "--gt",
            gt.to_str().unwrap(),
            "--predictions",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        for f in [
            "report.json",
            "report.md",
            "report.html",
            "pr_curves.png",
            "pr_curves.svg",
        ] {
            assert!(out.join(f).is_file(), "{name}/{f}");
        }
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("<svg"), "the plot is inlined");
        for external in ["src=\"http", "href=\"http", "url(http", "<link", "<script"] {
            assert!(!html.contains(external), "self-contained: {external}");
        }
    }
    let report = read_json(&dir.path().join("a/report.json"));
    assert_eq!(report["coco"]["AP50"], 1.0);
    let o = lookout(&[
        "eval",
        "--compare",
        dir.path().join("a").to_str().unwrap(),
        dir.path().join("b").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("AP50") && table.contains('-'), "{table}");
    // Predictions for an image the ground truth lacks are refused by name.
    std::fs::write(
        &noisy,
        br#"[{"image_id": 987654, "category_id": 1, "bbox": [0,0,1,1], "score": 0.5}]"#,
    )
    .unwrap();
    let o = lookout(&[
        "eval",
        "--gt",
        gt.to_str().unwrap(),
        "--predictions",
        noisy.to_str().unwrap(),
        "--out",
        dir.path().join("c").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("987654"), "{}", stderr(&o));
}

#[test]
fn eval_runs_a_model_over_the_images_and_reports_unmapped_classes() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png"] {
        crate::util::write_png(&dir.path().join(name), 64, 64);
    }
    // The fixture model finds a person at (15,14)-(25,26), a boat and a car
    // in every 64x64 image; the labels have people only.
    let gt = dir.path().join("gt.json");
    std::fs::write(
        &gt,
        serde_json::to_vec(&serde_json::json!({
            "images": [
                {"id": 1, "file_name": "a.png", "width": 64, "height": 64},
                {"id": 2, "file_name": "b.png", "width": 64, "height": 64}
            ],
            "categories": [{"id": 5, "name": "person"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 5, "bbox": [15, 14, 10, 12], "area": 120, "iscrowd": 0},
                {"id": 2, "image_id": 2, "category_id": 5, "bbox": [15, 14, 10, 12], "area": 120, "iscrowd": 0}
            ]
        }))
        .unwrap(),
    )
    .unwrap();
    let out = dir.path().join("report");
    let o = lookout(&[
        "eval",
        "--gt",
        gt.to_str().unwrap(),
        "--model",
        crate::util::fixture("yolov8-tiny.onnx").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["coco"]["AP50"], 1.0, "{}", r["coco"]);
    let unmapped = &r["detector"]["class_mapping"]["unmapped_model_classes"];
    assert_eq!(unmapped["boat"], 2, "{unmapped}");
    assert_eq!(unmapped["car"], 2, "{unmapped}");
    assert!(stderr(&o).contains("\"boat\""), "warned: {}", stderr(&o));
}

#[test]
fn sortie_events_score_perfectly_against_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let o = lookout(&[
        "screen",
        crate::util::data("sample-sortie.mp4").to_str().unwrap(),
        "--out",
        runs.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = crate::util::run_dir(&runs);
    let out = dir.path().join("report");
    let o = lookout(&[
        "eval",
        "--events",
        run.to_str().unwrap(),
        "--events-gt",
        crate::util::data("sample-sortie.events.json")
            .to_str()
            .unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = &read_json(&out.join("report.json"))["events"]["score"];
    assert_eq!(
        (
            s["truth"].as_u64(),
            s["found"].as_u64(),
            s["matched"].as_u64()
        ),
        (Some(2), Some(2), Some(2)),
        "{s}"
    );
    assert_eq!(s["false_events"], 0);
    // Each event opens after min_duration (1 s) plus a frame at most.
    for t in s["time_to_first_flag_s"].as_array().unwrap() {
        let t = t.as_f64().unwrap();
        assert!((0.99..=1.21).contains(&t), "{t}");
    }
    assert!(
        (s["video_hours"].as_f64().unwrap() * 3600.0 - 26.5).abs() < 0.2,
        "{s}"
    );
}

#[test]
fn demo_model_scores_on_the_sortie_video_frames() {
    // The sortie's COCO labels are per frame of the video (`frame_index`).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let o = lookout(&[
        "eval",
        "--gt",
        crate::util::data("sample-sortie.coco.json")
            .to_str()
            .unwrap(),
        "--video",
        crate::util::data("sample-sortie.mp4").to_str().unwrap(),
        "--model",
        repo().join("models/lookout-demo.onnx").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["detector"]["ground_truth"]["images"], 265);
    let ap50 = r["coco"]["AP50"].as_f64().unwrap();
    // Measured 0.845 with ONNX Runtime 1.31.1 (README, "Evaluating").
    assert!(ap50 > 0.8, "AP50 {ap50}");
    let classes: Vec<&str> = r["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(classes, vec!["person", "vessel", "container", "vehicle"]);
}
