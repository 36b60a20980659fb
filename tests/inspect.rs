//! `lookout inspect`: the family and why, tensors, classes, preprocessing
//! and providers, as text and as JSON.

use crate::util::{fixture, lookout, repo, stderr};

#[test]
fn inspect_reports_family_tensors_classes_and_providers() {
    let o = lookout(&["inspect", fixture("yolov8-dynamic.onnx").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for needle in [
        "family     Yolov8",
        "names` metadata lists 3 classes",
        "images",
        "[batch, 3, height, width]",
        "person",
        "LetterboxCenter",
        "CPUExecutionProvider",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn inspect_json_matches_the_model() {
    let o = lookout(&[
        "inspect",
        fixture("nanodet-tiny.onnx").to_str().unwrap(),
        "--labels",
        fixture("nanodet-tiny.labels.txt").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["family"], "nanodet");
    assert_eq!(v["outputs"].as_array().unwrap().len(), 6);
    assert_eq!(v["labels"], serde_json::json!(["person", "boat", "car"]));
    assert_eq!(v["preprocess"]["channels"], "bgr");
    assert!(v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "CPUExecutionProvider"));
}

#[test]
fn inspect_refuses_a_classifier_and_an_unknown_family() {
    let o = lookout(&["inspect", fixture("classifier.onnx").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("task `classify`"), "{}", stderr(&o));
    let o = lookout(&[
        "inspect",
        fixture("yolov8-tiny.onnx").to_str().unwrap(),
        "--family",
        "yolo9000",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown family \"yolo9000\"") && stderr(&o).contains("nanodet"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn inspect_shows_class_roles_and_the_signatures_the_model_can_drive() {
    let model = fixture("yolov8-dynamic.onnx");
    let o = lookout(&["inspect", model.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for needle in [
        "1 boat    role vessel (COCO, SeaDronesSee)",
        "people-in-container: cannot run: no class of the model maps to container or vehicle",
        "overcrowded-vessel: runs with persons person; vessels boat",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!stderr(&o).contains("synthetic"), "{}", stderr(&o));
    // The config's [roles] are applied.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lookout.toml");
    std::fs::write(&config, "[roles]\ncar = \"vehicle\"\nboat = \"none\"\n").unwrap();
    let o = lookout(&[
        "inspect",
        model.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["roles"],
        serde_json::json!({"person": "person", "car": "vehicle"})
    );
    assert_eq!(
        v["signatures"],
        serde_json::json!([
            "people-in-container: runs with subjects person; containers car",
            "overcrowded-vessel: cannot run: no class of the model maps to vessel (its vessels)"
        ])
    );
    // The demo model says what it is.
    let demo = repo().join("models/lookout-demo.onnx");
    let o = lookout(&["inspect", demo.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("trained on synthetic scenes only"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn inspect_prints_the_tensors_of_a_model_it_refuses() {
    let o = lookout(&["inspect", fixture("unsupported.onnx").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}");
    for needle in [
        "images               float32  [1, 3, 64, 64]",
        "logits               float32  [1, 10]",
        "features             float32  [1, 5, 5]",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(
        stderr(&o).contains("fit no known detector family"),
        "{}",
        stderr(&o)
    );
    // The same as JSON, with the reason.
    let o = lookout(&[
        "inspect",
        fixture("unsupported.onnx").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["family"], serde_json::Value::Null);
    assert_eq!(v["outputs"][1]["shape"], serde_json::json!([1, 5, 5]));
    assert!(v["error"].as_str().unwrap().contains("[1, 10]"), "{v}");
}

#[test]
fn inspect_explains_how_numbered_nanodet_outputs_pair_up() {
    let o = lookout(&[
        "inspect",
        fixture("nanodet-numeric.onnx").to_str().unwrap(),
        "--labels",
        fixture("nanodet-numeric.labels.txt").to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for needle in [
        "family     Nanodet",
        "8: 792 + 795, 16: 814 + 817, 32: 836 + 839",
        "by output order",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}
