//! Throughput of the stages `lookout screen` overlaps, measured on the same
//! clip and model so that `scripts/bench.sh` can compare the whole pipeline
//! against them in one run:
//!
//! - `decode_only_fps`: decode, convert to RGB and letterbox on one core;
//! - `model_only_fps`: the model alone on frames preprocessed beforehand,
//!   with the same inference workers and threads as the pipeline (by
//!   default, what `screen` chooses: see `ModelConfig::workers`), each
//!   worker calling its own copy of the model back to back;
//! - `decode_cpu_ms` and `model_cpu_ms`: the processor time each stage
//!   spends on a frame, over all its threads (the model's ONNX Runtime
//!   threads seldom keep every core busy; time they spend spinning counts),
//!   and `cores`: what the pipeline's limit is computed from (see
//!   `scripts/bench.sh`).
//!
//! Usage: `cargo bench --bench throughput -- CLIP MODEL [THREADS [WORKERS]]`.
//! Prints `name value` lines.

mod common;

use std::time::Instant;

use lookout::detect::family::PostProcess;
use lookout::detect::onnx::{OnnxConfig, OnnxDetector};
use lookout::detect::Detector;
use lookout::source::raster::RasterOptions;
use lookout::source::{self, Input, InputKind, OpenOptions, Sampling};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(clip), Some(model)) = (args.first(), args.get(1)) else {
        eprintln!("usage: cargo bench --bench throughput -- CLIP MODEL [THREADS [WORKERS]]");
        std::process::exit(2);
    };
    let (workers, threads) = common::layout(
        args.get(2).and_then(|t| t.parse().ok()).unwrap_or(0),
        args.get(3).and_then(|t| t.parse().ok()),
    );

    let mut config = OnnxConfig::new(model);
    config.threads = threads;
    config.post = PostProcess {
        conf: 0.3,
        iou: 0.5,
        max_det: 300,
    };
    let detector = OnnxDetector::load(&config).expect("loading the model");
    let spec = detector.preprocess().clone();

    // Decode + RGB + letterbox on this one thread, FFmpeg single-threaded.
    let input = Input {
        path: clip.into(),
        kind: InputKind::Video,
    };
    let options = OpenOptions {
        sampling: Sampling::default(),
        decode_threads: 1,
        raster: RasterOptions {
            config: Default::default(),
            tiling: lookout::detect::tile::Tiling::with_size(640),
        },
        telemetry: None,
        geo: Default::default(),
        feedback: None,
        probe_for: None,
    };
    let mut src = source::open(&input, 0, &options).expect("opening the clip");
    let cpu0 = common::cpu_seconds();
    let t0 = Instant::now();
    let mut frames = 0u64;
    let mut sample = Vec::new();
    while let Some(f) = src.next_frame().expect("decoding the clip") {
        let t = spec.run(&f.image);
        if sample.len() < 16 {
            sample.push(t);
        }
        frames += 1;
    }
    let decode_fps = frames as f64 / t0.elapsed().as_secs_f64();
    let decode_cpu = (common::cpu_seconds() - cpu0) / frames as f64;

    // The model alone, on preprocessed frames, as the pipeline runs it.
    drop(detector);
    let runs = frames.clamp(32, 200) as usize;
    let (model_fps, model_cpu) = common::model_alone(&config, workers, &sample, runs);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!("frames {frames}");
    println!("decode_only_fps {decode_fps:.2}");
    println!("model_only_fps {model_fps:.2}");
    println!("decode_cpu_ms {:.3}", decode_cpu * 1e3);
    println!("model_cpu_ms {:.3}", model_cpu * 1e3);
    println!("cores {cores}");
    println!("workers {workers}");
}
