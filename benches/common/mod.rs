//! What the throughput benchmarks share: the model alone as the pipeline
//! runs it (its inference workers side by side), and processor time.

use std::time::Instant;

use lookout::config::ModelConfig;
use lookout::detect::onnx::{OnnxConfig, OnnxDetector};
use lookout::detect::{Detector, Tensorised};

/// The inference workers and threads per worker that `screen` runs with
/// `threads` (0: its choice) and `workers` (`None`: its choice).
pub fn layout(threads: usize, workers: Option<usize>) -> (usize, usize) {
    let m = ModelConfig {
        threads,
        workers,
        ..ModelConfig::default()
    };
    let w = m.workers();
    (w, m.threads_per_worker(w))
}

/// The model alone on `tensors`, one per call as `screen` runs by default:
/// `workers` copies loaded from `config`, each calling its own back to back
/// on its own thread, after one warm-up pass over the first eight tensors.
/// Returns tensors per second, and processor seconds per tensor over all
/// threads.
pub fn model_alone(
    config: &OnnxConfig,
    workers: usize,
    tensors: &[Tensorised],
    runs: usize,
) -> (f64, f64) {
    assert!(!tensors.is_empty(), "no tensors to run the model on");
    let mut detectors: Vec<OnnxDetector> = (0..workers.max(1))
        .map(|_| OnnxDetector::load(config).expect("loading the model"))
        .collect();
    for d in &mut detectors {
        for t in tensors.iter().take(8) {
            d.detect(std::slice::from_ref(t)).expect("inference");
        }
    }
    let each = runs.div_ceil(detectors.len());
    let total = each * detectors.len();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for (w, d) in detectors.iter_mut().enumerate() {
            scope.spawn(move || {
                for i in 0..each {
                    let t = &tensors[(w + i * 7) % tensors.len()];
                    d.detect(std::slice::from_ref(t)).expect("inference");
                }
            });
        }
    });
    let rate = total as f64 / t0.elapsed().as_secs_f64();
    (rate, (cpu_seconds() - cpu0) / total as f64)
}

/// Processor time of this process so far, over all its threads, in
/// seconds (`utime + stime` of `/proc/self/stat`, in clock ticks).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("reading /proc/self/stat");
    // The command name may hold spaces: fields count from after its ')'.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}
