//! The batch screening pipeline: threads joined by bounded channels.
//!
//! ```text
//! decode workers ──▶ preprocess ──▶ inference ──▶ caller's consumer
//! (one per input     (rayon)        (one thread,   (signatures, evidence,
//!  at a time)                        batches)       progress)
//! ```
//!
//! Every channel is bounded and every send blocks, so batch mode never drops
//! a frame and memory stays flat however long the video. Each source's frames
//! stay in decode order end to end (each stage has one consumer thread), and a
//! source's `Started` and `Finished` messages travel in the same stream as
//! its frames, so the consumer sees them in order. If the consumer or the
//! detector fails, the channels close and every thread winds down.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::prelude::*;

use crate::detect::{DetectError, Detection, Detector, Preprocess, Tensorised};
use crate::evidence::sha256_file;
use crate::frame::Frame;
use crate::source::{self, Input, OpenOptions, SourceError, SourceInfo};

/// A message about one source, in stream order.
#[derive(Debug)]
pub enum Item<T> {
    Started {
        source_id: usize,
        path: PathBuf,
        info: SourceInfo,
        sha256: Option<String>,
    },
    Frame(T),
    /// The source is done; `error` says why it stopped early, if it did.
    /// `Started` may be missing when the source could not be opened.
    Finished {
        source_id: usize,
        path: PathBuf,
        error: Option<SourceError>,
    },
}

impl<T> Item<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Item<U> {
        match self {
            Item::Started {
                source_id,
                path,
                info,
                sha256,
            } => Item::Started {
                source_id,
                path,
                info,
                sha256,
            },
            Item::Frame(t) => Item::Frame(f(t)),
            Item::Finished {
                source_id,
                path,
                error,
            } => Item::Finished {
                source_id,
                path,
                error,
            },
        }
    }
}

/// A frame with its detections, as the consumer receives it.
pub struct Detected {
    pub frame: Frame,
    pub detections: Vec<Detection>,
}

/// How to run the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub open: OpenOptions,
    /// Inputs decoded at the same time.
    pub decode_workers: usize,
    /// Frames per inference call (capped by the model's batch size).
    pub batch: usize,
    /// Hash each input file for `run.json`.
    pub hash_sources: bool,
}

/// Time spent per stage, for the summary and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct PipelineStats {
    pub frames: u64,
    pub inference_calls: u64,
    pub inference_time: Duration,
    pub wall_time: Duration,
}

/// Why the pipeline stopped before the end of its inputs.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("{0}")]
    Consumer(anyhow::Error),
}

const CHANNEL_FRAMES: usize = 4;

/// Screens `inputs` with `detector`, calling `consume` on this thread for
/// every message in stream order.
pub fn run<D: Detector + 'static>(
    inputs: &[Input],
    detector: D,
    options: &PipelineOptions,
    mut consume: impl FnMut(Item<Detected>) -> anyhow::Result<()>,
) -> Result<(D, PipelineStats), PipelineError> {
    let started = Instant::now();
    let batch = options.batch.clamp(1, detector.max_batch().max(1));
    let preprocess = detector.preprocess().clone();

    let (decoded_tx, decoded_rx) = bounded::<Item<Frame>>(CHANNEL_FRAMES * batch);
    let (ready_tx, ready_rx) = bounded::<Item<(Frame, Tensorised)>>(CHANNEL_FRAMES * batch);
    let (out_tx, out_rx) = bounded::<Item<Detected>>(CHANNEL_FRAMES * batch);

    let inputs = Arc::new(inputs.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..options.decode_workers.clamp(1, inputs.len().max(1)))
        .map(|w| {
            let (inputs, next, tx, options) = (
                inputs.clone(),
                next.clone(),
                decoded_tx.clone(),
                options.clone(),
            );
            std::thread::Builder::new()
                .name(format!("decode-{w}"))
                .spawn(move || decode_worker(&inputs, &next, &tx, &options))
                .expect("spawning a thread")
        })
        .collect();
    drop(decoded_tx);

    let pre = std::thread::Builder::new()
        .name("preprocess".into())
        .spawn(move || preprocess_stage(&preprocess, batch, &decoded_rx, &ready_tx))
        .expect("spawning a thread");
    let infer = std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || inference_stage(detector, batch, &ready_rx, &out_tx))
        .expect("spawning a thread");

    let mut consumer_error = None;
    for item in &out_rx {
        if let Err(e) = consume(item) {
            consumer_error = Some(e);
            break;
        }
    }
    // Closing the last receiver makes every upstream send fail, so the
    // stages stop instead of blocking on a full channel.
    drop(out_rx);
    let infer_result = infer.join().expect("inference thread panicked");
    pre.join().expect("preprocess thread panicked");
    for w in workers {
        w.join().expect("decode thread panicked");
    }
    let (detector, mut stats) = infer_result?;
    if let Some(e) = consumer_error {
        return Err(PipelineError::Consumer(e));
    }
    stats.wall_time = started.elapsed();
    Ok((detector, stats))
}

fn decode_worker(
    inputs: &[Input],
    next: &AtomicUsize,
    tx: &Sender<Item<Frame>>,
    options: &PipelineOptions,
) {
    loop {
        let source_id = next.fetch_add(1, Ordering::SeqCst);
        let Some(input) = inputs.get(source_id) else {
            return;
        };
        let path = input.path.clone();
        let finished = |error| Item::Finished {
            source_id,
            path: path.clone(),
            error,
        };
        let sha256 = if options.hash_sources {
            match sha256_file(&input.path) {
                Ok(h) => Some(h),
                Err(source) => {
                    let _ = tx.send(finished(Some(SourceError::Io {
                        path: path.clone(),
                        source,
                    })));
                    continue;
                }
            }
        } else {
            None
        };
        let mut src = match source::open(input, source_id, &options.open) {
            Ok(s) => s,
            Err(e) => {
                if tx.send(finished(Some(e))).is_err() {
                    return;
                }
                continue;
            }
        };
        let started = Item::Started {
            source_id,
            path: path.clone(),
            info: src.info().clone(),
            sha256,
        };
        if tx.send(started).is_err() {
            return;
        }
        let error = loop {
            match src.next_frame() {
                Ok(Some(frame)) => {
                    if tx.send(Item::Frame(frame)).is_err() {
                        return;
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        if tx.send(finished(error)).is_err() {
            return;
        }
    }
}

/// Tensorises frames in order. Frames already waiting are taken together
/// and letterboxed in parallel on rayon's pool.
fn preprocess_stage(
    spec: &Preprocess,
    batch: usize,
    rx: &Receiver<Item<Frame>>,
    tx: &Sender<Item<(Frame, Tensorised)>>,
) {
    let chunk = batch.max(2);
    let mut pending: Vec<Item<Frame>> = Vec::with_capacity(chunk);
    while let Ok(first) = rx.recv() {
        pending.push(first);
        while pending.len() < chunk {
            match rx.try_recv() {
                Ok(item) => pending.push(item),
                Err(_) => break,
            }
        }
        let tensors: Vec<Option<Tensorised>> = pending
            .par_iter()
            .map(|item| match item {
                Item::Frame(f) => Some(spec.run(&f.image)),
                _ => None,
            })
            .collect();
        for (item, tensor) in pending.drain(..).zip(tensors) {
            let out = item.map(|f| (f, tensor.expect("every frame was tensorised")));
            if tx.send(out).is_err() {
                return;
            }
        }
    }
}

fn inference_stage<D: Detector>(
    mut detector: D,
    batch: usize,
    rx: &Receiver<Item<(Frame, Tensorised)>>,
    tx: &Sender<Item<Detected>>,
) -> Result<(D, PipelineStats), DetectError> {
    let mut stats = PipelineStats::default();
    // Messages in arrival order; frames wait in `tensors` for their batch.
    // Control messages do not close a batch, so frames of many small inputs
    // (a folder of photos) still share inference calls.
    let mut queue: Vec<Item<Frame>> = Vec::with_capacity(batch * 2);
    let mut tensors: Vec<Tensorised> = Vec::with_capacity(batch);
    let mut open = true;
    while open || !queue.is_empty() {
        while open && tensors.len() < batch {
            match rx.recv() {
                Ok(item) => queue.push(item.map(|(f, t)| {
                    tensors.push(t);
                    f
                })),
                Err(_) => open = false,
            }
        }
        let mut results = if tensors.is_empty() {
            Vec::new()
        } else {
            let t0 = Instant::now();
            let results = detector.detect(&tensors)?;
            stats.inference_time += t0.elapsed();
            stats.inference_calls += 1;
            stats.frames += tensors.len() as u64;
            tensors.clear();
            results
        }
        .into_iter();
        for item in queue.drain(..) {
            let out = item.map(|frame| Detected {
                frame,
                detections: results.next().expect("one result per frame"),
            });
            if tx.send(out).is_err() {
                return Ok((detector, stats));
            }
        }
    }
    Ok((detector, stats))
}
