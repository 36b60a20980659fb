//! lookout screens aerial imagery (drone video, still images, satellite
//! rasters read in windows and placed on the map; live feeds to come) for
//! signatures of human trafficking, and keeps every flag as evidence for
//! human review.
//!
//! Data flows `source` → `detect` (preprocess, ONNX model, family decode,
//! NMS) → `track` → `signature` → `event` → `evidence`, wired by
//! [`pipeline`] and [`stream`]. See DESIGN.md in
//! the team's shared folder for the full architecture.
//!
//! ```no_run
//! use lookout::detect::{family::PostProcess, onnx::{OnnxConfig, OnnxDetector}, Detector};
//!
//! let mut config = OnnxConfig::new("models/lookout-demo.onnx");
//! config.post = PostProcess { conf: 0.3, iou: 0.5, max_det: 300 };
//! let mut detector = OnnxDetector::load(&config)?;
//! let image = image::open("photo.jpg")?.into_rgb8();
//! let input = detector.preprocess().run(&image);
//! for d in &detector.detect(&[input])?[0] {
//!     println!("{} {:.2} {:?}", detector.labels()[d.class_id], d.score, d.bbox);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bundled;
pub mod cli;
pub mod clock;
pub mod config;
pub mod detect;
pub mod digest;
pub mod eval;
pub mod event;
pub mod evidence;
pub mod frame;
pub mod geo;
pub mod geom;
pub mod live;
pub mod pipeline;
pub mod review;
pub mod run;
pub mod signature;
pub mod sink;
pub mod source;
pub mod stream;
pub mod telemetry;
pub mod track;
