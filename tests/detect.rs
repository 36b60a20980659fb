//! Model families decoded end to end through ONNX Runtime on the tiny
//! fixtures of `scripts/make_test_models.py`, against their expected outputs.

use lookout::detect::family::PostProcess;
use lookout::detect::onnx::{OnnxConfig, OnnxDetector};
use lookout::detect::{Detection, Detector};

use crate::util::{fixture, read_json};

fn load(model: &str, labels: Option<&str>) -> Result<OnnxDetector, lookout::detect::DetectError> {
    OnnxDetector::load(&OnnxConfig {
        model: fixture(model),
        labels: labels.map(fixture),
        ort_lib: None,
        threads: 1,
        imgsz: Some(64),
        post: PostProcess { conf: 0.25, iou: 0.5, max_det: 300 },
    })
}

/// Runs `n` grey 64x64 images through the detector.
fn detect(d: &mut OnnxDetector, n: usize) -> Vec<Vec<Detection>> {
    let img = image::RgbImage::from_pixel(64, 64, image::Rgb([100, 100, 100]));
    let batch: Vec<_> = (0..n).map(|_| d.preprocess().run(&img)).collect();
    d.detect(&batch).unwrap()
}

/// Compares detections with `<model>.expected.json` (input pixels equal
/// source pixels for a 64x64 frame, so boxes compare directly).
fn assert_expected(model: &str, labels: &[String], got: &[Detection]) {
    let expected = read_json(&fixture(&model.replace(".onnx", ".expected.json")));
    let tol = expected["tolerance"].as_f64().unwrap_or(1e-4) as f32;
    let want = expected["detections"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{model}: got {got:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.class_id as u64, w["class_id"].as_u64().unwrap(), "{model}");
        assert_eq!(labels[g.class_id], w["class"].as_str().unwrap(), "{model}");
        assert!((g.score - w["score"].as_f64().unwrap() as f32).abs() <= tol, "{model}: {g:?} vs {w}");
        for (a, b) in g.bbox.to_array().iter().zip(w["box"].as_array().unwrap()) {
            assert!((a - b.as_f64().unwrap() as f32).abs() <= tol.max(1e-3), "{model}: {g:?} vs {w}");
        }
    }
}

#[test]
fn yolov8_fixture_decodes_with_metadata_names() {
    let mut d = load("yolov8-tiny.onnx", None).unwrap();
    assert_eq!(d.labels(), ["person", "boat", "car"]);
    assert_eq!(d.info().labels_source, "metadata");
    let out = detect(&mut d, 1);
    assert_expected("yolov8-tiny.onnx", d.labels(), &out[0]);
}

#[test]
fn yolox_fixture_decodes_grid_with_labels_file() {
    let mut d = load("yolox-tiny.onnx", Some("yolox-tiny.labels.txt")).unwrap();
    assert_eq!(format!("{:?}", d.info().family), "Yolox");
    let out = detect(&mut d, 1);
    assert_expected("yolox-tiny.onnx", d.labels(), &out[0]);
}

#[test]
fn yolox_without_labels_gets_generated_names() {
    let d = load("yolox-tiny.onnx", None).unwrap();
    assert_eq!(d.labels(), ["class_0", "class_1"]);
}

#[test]
fn dynamic_batch_returns_one_result_per_image() {
    let mut d = load("yolov8-dynamic.onnx", None).unwrap();
    assert!(d.max_batch() > 1);
    let out = detect(&mut d, 3);
    assert_eq!(out.len(), 3);
    for dets in &out {
        assert_expected("yolov8-dynamic.onnx", d.labels(), dets);
    }
}

#[test]
fn fp16_model_runs() {
    let mut d = load("yolov8-fp16.onnx", None).unwrap();
    let out = detect(&mut d, 1);
    assert_expected("yolov8-fp16.onnx", d.labels(), &out[0]);
}

#[test]
fn unsupported_outputs_are_named_in_the_error() {
    let err = load("unsupported.onnx", None).err().expect("must fail").to_string();
    assert!(err.contains("unsupported.onnx"), "{err}");
    for shape in read_json(&fixture("unsupported.expected.json"))["error_contains"].as_array().unwrap() {
        assert!(err.contains(shape.as_str().unwrap()), "{err}");
    }
}

#[test]
fn wrong_labels_count_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "a\nb\nc\nd\n").unwrap();
    let err = OnnxDetector::load(&OnnxConfig {
        model: fixture("yolox-tiny.onnx"),
        labels: Some(labels),
        ort_lib: None,
        threads: 1,
        imgsz: Some(64),
        post: PostProcess { conf: 0.25, iou: 0.5, max_det: 300 },
    })
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("labels.txt") && err.contains("4 class names") && err.contains("2 classes"), "{err}");
}
