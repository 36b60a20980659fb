//! Model families decoded end to end through ONNX Runtime on the tiny
//! fixtures of `scripts/make_test_models.py`, against the NumPy reference
//! decode recorded in each `<model>.expected.json`: once on a 64x64 frame
//! (model-input pixels equal source pixels) and once on a 96x64 frame,
//! which exercises the letterbox or stretch mapping back to the source.

use lookout::detect::family::Family;
use lookout::detect::onnx::{OnnxConfig, OnnxDetector};
use lookout::detect::{Detection, Detector};

use crate::util::{fixture, read_json};

/// Every detector fixture, its family, and its labels file if it has one.
const FIXTURES: &[(&str, Family, Option<&str>)] = &[
    ("yolov8-tiny.onnx", Family::Yolov8, None),
    ("yolov8-dynamic.onnx", Family::Yolov8, None),
    ("yolov8-fp16.onnx", Family::Yolov8, None),
    ("yolov8-int8.onnx", Family::Yolov8, None),
    ("yolov5-tiny.onnx", Family::Yolov5, None),
    ("yolov5-fp16.onnx", Family::Yolov5, None),
    ("end2end-tiny.onnx", Family::End2end, None),
    (
        "yolox-tiny.onnx",
        Family::Yolox,
        Some("yolox-tiny.labels.txt"),
    ),
    ("ssd-tiny.onnx", Family::Ssd, Some("ssd-tiny.labels.txt")),
    ("detr-tiny.onnx", Family::Detr, Some("detr-tiny.labels.txt")),
    (
        "detr-logits.onnx",
        Family::DetrLogits,
        Some("detr-logits.labels.txt"),
    ),
    (
        "nanodet-tiny.onnx",
        Family::Nanodet,
        Some("nanodet-tiny.labels.txt"),
    ),
    (
        "nanodet-numeric.onnx",
        Family::Nanodet,
        Some("nanodet-numeric.labels.txt"),
    ),
    (
        "nanodet-plus.onnx",
        Family::Nanodet,
        Some("nanodet-plus.labels.txt"),
    ),
    (
        "detr-squeezed.onnx",
        Family::Detr,
        Some("detr-squeezed.labels.txt"),
    ),
    ("rtdetr-ultralytics.onnx", Family::Rtdetr, None),
    (
        "yolov7-end2end.onnx",
        Family::Yolov7End2end,
        Some("yolov7-end2end.labels.txt"),
    ),
    ("yolov8-transposed.onnx", Family::Yolov8Transposed, None),
];

fn load(model: &str, labels: Option<&str>) -> Result<OnnxDetector, lookout::detect::DetectError> {
    let mut config = OnnxConfig::new(fixture(model));
    config.labels = labels.map(fixture);
    config.threads = 1;
    config.imgsz = Some(64);
    OnnxDetector::load(&config)
}

/// A uniform grey frame (pixel value 100), as the fixture script assumes.
fn grey(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_pixel(w, h, image::Rgb([100, 100, 100]))
}

fn detect(d: &mut OnnxDetector, frames: &[image::RgbImage]) -> Vec<Vec<Detection>> {
    let batch: Vec<_> = frames.iter().map(|f| d.preprocess().run(f)).collect();
    d.detect(&batch).unwrap()
}

/// Compares detections with `key` ("detections" or "source_detections") of
/// the model's expectation file.
fn assert_expected(model: &str, key: &str, labels: &[String], got: &[Detection]) {
    let expected = read_json(&fixture(&model.replace(".onnx", ".expected.json")));
    let tol = expected["tolerance"].as_f64().unwrap_or(1e-4).max(1e-3) as f32;
    let want = expected[key]
        .as_array()
        .unwrap_or_else(|| panic!("{model}: no {key}"));
    assert_eq!(
        got.len(),
        want.len(),
        "{model} {key}: got {got:?}\nwant {want:?}"
    );
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            g.class_id as u64,
            w["class_id"].as_u64().unwrap(),
            "{model} {key}: {g:?} vs {w}"
        );
        assert_eq!(
            lookout::detect::class_name(labels, g.class_id),
            w["class"].as_str().unwrap(),
            "{model}"
        );
        assert!(
            (g.score - w["score"].as_f64().unwrap() as f32).abs() <= tol,
            "{model} {key}: {g:?} vs {w}"
        );
        for (a, b) in g.bbox.to_array().iter().zip(w["box"].as_array().unwrap()) {
            assert!(
                (a - b.as_f64().unwrap() as f32).abs() <= tol,
                "{model} {key}: {g:?} vs {w}"
            );
        }
    }
}

#[test]
fn every_family_fixture_matches_its_reference_in_input_and_source_pixels() {
    for &(model, family, labels) in FIXTURES {
        let mut d = load(model, labels).unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(
            d.info().family,
            family,
            "{model}: {}",
            d.info().family_reason
        );
        let out = detect(&mut d, &[grey(64, 64)]);
        assert_expected(model, "detections", d.labels(), &out[0]);
        let out = detect(&mut d, &[grey(96, 64)]);
        assert_expected(model, "source_detections", d.labels(), &out[0]);
    }
}

#[test]
fn class_names_come_from_metadata_then_labels_then_class_n() {
    let d = load("yolov8-tiny.onnx", None).unwrap();
    assert_eq!(d.labels(), ["person", "boat", "car"]);
    assert_eq!(d.info().labels_source, "metadata");
    let d = load("yolox-tiny.onnx", Some("yolox-tiny.labels.txt")).unwrap();
    assert_eq!(d.labels(), ["person", "vessel"]);
    let d = load("yolox-tiny.onnx", None).unwrap();
    assert_eq!(d.labels(), ["class_0", "class_1"]);
    assert_eq!(d.info().labels_source, "generated");
}

#[test]
fn batched_run_equals_single_frame_runs() {
    let mut d = load("yolov8-dynamic.onnx", None).unwrap();
    assert!(d.max_batch() > 1);
    let frames = [grey(64, 64), grey(96, 64), grey(64, 64)];
    let batched = detect(&mut d, &frames);
    assert_eq!(batched.len(), 3);
    for (frame, dets) in frames.iter().zip(&batched) {
        assert_eq!(&detect(&mut d, std::slice::from_ref(frame))[0], dets);
    }
    assert_expected(
        "yolov8-dynamic.onnx",
        "source_detections",
        d.labels(),
        &batched[1],
    );
    // Fixed-batch and squeezed-output models run one frame per call.
    assert_eq!(load("yolov8-tiny.onnx", None).unwrap().max_batch(), 1);
    assert_eq!(
        load("detr-logits.onnx", Some("detr-logits.labels.txt"))
            .unwrap()
            .max_batch(),
        1
    );
}

/// YOLOv7's in-graph NMS returns the rows of the whole batch in one
/// `[N, 7]` tensor; each image must get only the rows of its batch_id.
#[test]
fn yolov7_end2end_rows_are_split_per_image_in_a_batch() {
    let mut d = load("yolov7-end2end.onnx", Some("yolov7-end2end.labels.txt")).unwrap();
    assert!(d.max_batch() > 1);
    let frames = [grey(64, 64), grey(96, 64), grey(64, 64)];
    let batched = detect(&mut d, &frames);
    assert_eq!(batched.len(), 3);
    assert_expected("yolov7-end2end.onnx", "detections", d.labels(), &batched[0]);
    assert_expected(
        "yolov7-end2end.onnx",
        "source_detections",
        d.labels(),
        &batched[1],
    );
    assert_expected("yolov7-end2end.onnx", "detections", d.labels(), &batched[2]);
}

#[test]
fn models_that_are_not_detectors_are_refused_with_what_was_found() {
    for model in ["unsupported.onnx", "classifier.onnx"] {
        let err = load(model, None)
            .err()
            .unwrap_or_else(|| panic!("{model} must fail"))
            .to_string();
        assert!(err.contains(model), "{err}");
        for needle in read_json(&fixture(&model.replace(".onnx", ".expected.json")))
            ["error_contains"]
            .as_array()
            .unwrap()
        {
            assert!(err.contains(needle.as_str().unwrap()), "{model}: {err}");
        }
    }
}

#[test]
fn forced_family_must_fit_the_outputs() {
    let mut config = OnnxConfig::new(fixture("yolov8-tiny.onnx"));
    config.family = Some(Family::Ssd);
    let err = OnnxDetector::load(&config).err().unwrap().to_string();
    assert!(
        err.contains("forces family Ssd") && err.contains("output0"),
        "{err}"
    );
}

#[test]
fn wrong_labels_count_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "a\nb\nc\nd\n").unwrap();
    let mut config = OnnxConfig::new(fixture("yolox-tiny.onnx"));
    config.labels = Some(labels);
    let err = OnnxDetector::load(&config).err().unwrap().to_string();
    assert!(
        err.contains("labels.txt") && err.contains("4 class names") && err.contains("2 classes"),
        "{err}"
    );
}

#[test]
fn asking_for_a_gpu_this_build_lacks_is_an_error() {
    let mut config = OnnxConfig::new(fixture("yolov8-tiny.onnx"));
    config.device = "cuda:0".parse().unwrap();
    if cfg!(feature = "cuda") {
        return; // A CUDA build on a machine without a GPU fails differently.
    }
    let err = OnnxDetector::load(&config).err().unwrap().to_string();
    assert!(err.contains("--features cuda"), "{err}");
}
