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
//!
//! **Rasters** travel as windows (see [`Frame`]): the decode worker reads
//! them one at a time, they are batched like frames, and the inference
//! stage moves each window's boxes into scene pixels and holds them. When
//! the raster's `Finished` message arrives, the boxes of all its windows are
//! merged ([`tile::merge`]) and the consumer receives the scene as one
//! frame, just before `Finished`. Memory stays bounded by the channels, not
//! by the scene's size; only the boxes accumulate.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::prelude::*;

use crate::detect::step::{Infer, Prepare, Prepared};
pub use crate::detect::tile::Tiling;
use crate::detect::tile::{self, MergeConfig, Tile};
use crate::detect::{DetectError, Detection, Detector};
use crate::digest::sha256_file;
use crate::frame::Frame;
use crate::source::{self, Input, OpenOptions, SourceError, SourceInfo};

/// A message about one source, in stream order.
#[derive(Debug)]
pub enum Item<T> {
    Started {
        source_id: usize,
        path: PathBuf,
        info: SourceInfo,
    },
    Frame(T),
    /// The source is done; `error` says why it stopped early, if it did.
    /// `Started` may be missing when the source could not be opened.
    Finished {
        source_id: usize,
        path: PathBuf,
        error: Option<SourceError>,
        /// Stretches of a video that could not be decoded.
        gaps: Vec<crate::frame::Gap>,
        /// What sampling did (video only).
        sampling: Option<crate::source::adaptive::SamplingCounts>,
        /// The input file's sha256, with `hash_sources`, once the whole
        /// file was read: it is hashed beside its decoding.
        sha256: Option<String>,
    },
}

impl<T> Item<T> {
    /// The same message with its frame replaced by `f(frame)`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Item<U> {
        match self {
            Item::Started {
                source_id,
                path,
                info,
            } => Item::Started {
                source_id,
                path,
                info,
            },
            Item::Frame(t) => Item::Frame(f(t)),
            Item::Finished {
                source_id,
                path,
                error,
                gaps,
                sampling,
                sha256,
            } => Item::Finished {
                source_id,
                path,
                error,
                gaps,
                sampling,
                sha256,
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
    /// Sliced inference: each frame larger than a tile is cut into tiles,
    /// detected tile by tile, and the tiles' detections merged.
    pub tiling: Option<Tiling>,
    /// How long the inference stage waits for the rest of a batch once
    /// its first frame is in; `None` waits for a full batch. Adaptive
    /// sampling needs a bound: its sources wait for the news of the frames
    /// they sent.
    pub batch_wait: Option<Duration>,
}

/// Time spent per stage, for the summary and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct PipelineStats {
    /// Frames out: video frames, images, and raster scenes (one each).
    pub frames: u64,
    /// Raster windows detected (those skipped as nodata are not counted).
    pub windows: u64,
    pub inference_calls: u64,
    /// Tensors detected: frames, tiles and windows.
    pub inference_tensors: u64,
    /// Tensors whose model outputs held NaN or infinite values.
    pub non_finite: u64,
    pub inference_time: Duration,
    pub wall_time: Duration,
}

/// Why the pipeline stopped before the end of its inputs: the detector
/// failed, or the consumer did (with its own error, `E`).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Consumer(E),
}

const CHANNEL_FRAMES: usize = 4;

/// Screens `inputs` with `detector`, calling `consume` on this thread for
/// every message in stream order.
pub fn run<D: Detector + 'static, E: std::error::Error + 'static>(
    inputs: &[Input],
    detector: D,
    options: &PipelineOptions,
    mut consume: impl FnMut(Item<Detected>) -> Result<(), E>,
) -> Result<(D, PipelineStats), PipelineError<E>> {
    let started = Instant::now();
    let prepare = Prepare::new(detector.preprocess().clone(), options.tiling.clone());
    let infer = Infer::new(
        detector,
        options.batch,
        options.tiling.as_ref().map(|t| t.merge),
    );
    let batch = infer.batch();
    let windows_merge = options.open.raster.tiling.merge;

    let (decoded_tx, decoded_rx) = bounded::<Item<Frame>>(CHANNEL_FRAMES * batch);
    let (ready_tx, ready_rx) = bounded::<Item<Prepared>>(CHANNEL_FRAMES * batch);
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
        .spawn(move || preprocess_stage(&prepare, batch, &decoded_rx, &ready_tx))
        .expect("spawning a thread");
    let infer = std::thread::Builder::new()
        .name("inference".into())
        .spawn({
            let wait = options.batch_wait;
            move || inference_stage(infer, windows_merge, wait, &ready_rx, &out_tx)
        })
        .expect("spawning a thread");

    let mut consumer_error = None;
    for item in &out_rx {
        if let Err(e) = consume(item) {
            consumer_error = Some(e);
            break;
        }
    }
    // Closing the last receiver makes every upstream send fail, so the
    // stages stop instead of blocking on a full channel; sources waiting
    // for news stop waiting.
    drop(out_rx);
    if let Some(board) = &options.open.feedback {
        board.close();
    }
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
        let finished = |error, gaps, sampling, sha256| Item::Finished {
            source_id,
            path: path.clone(),
            error,
            gaps,
            sampling,
            sha256,
        };
        // The file is hashed on its own thread while it is decoded, so
        // screening does not wait for a read of the whole file first.
        let hashing = options.hash_sources.then(|| {
            let file = input.path.clone();
            std::thread::Builder::new()
                .name(format!("hash-{source_id}"))
                .spawn(move || sha256_file(&file))
                .expect("spawning a thread")
        });
        let mut src = match source::open(input, source_id, &options.open) {
            Ok(s) => s,
            Err(e) => {
                if tx.send(finished(Some(e), Vec::new(), None, None)).is_err() {
                    return;
                }
                continue;
            }
        };
        let started = Item::Started {
            source_id,
            path: path.clone(),
            info: src.info().clone(),
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
        let (sha256, hash_error) = match hashing.map(|h| h.join().expect("hash thread panicked")) {
            Some(Ok(sha)) => (Some(sha), None),
            Some(Err(source)) => (
                None,
                Some(SourceError::Io {
                    path: path.clone(),
                    source,
                }),
            ),
            None => (None, None),
        };
        let error = error.or(hash_error);
        if tx
            .send(finished(error, src.gaps(), src.sampling(), sha256))
            .is_err()
        {
            return;
        }
    }
}

/// Tensorises frames in order. Frames already waiting are taken together
/// and prepared in parallel on rayon's pool; a sliced frame goes out in
/// parts (see [`Prepare::parts`]), each sent before the next is made, so
/// its tiles never all sit in memory at once.
fn preprocess_stage(
    prepare: &Prepare,
    batch: usize,
    rx: &Receiver<Item<Frame>>,
    tx: &Sender<Item<Prepared>>,
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
        let mut whole: Vec<Item<Frame>> = Vec::with_capacity(pending.len());
        for item in pending.drain(..) {
            let sliced = matches!(&item, Item::Frame(f) if prepare.tiles_of(f).is_some());
            if !sliced {
                whole.push(item);
                continue;
            }
            if !send_whole(prepare, &mut whole, tx) {
                return;
            }
            let Item::Frame(frame) = item else {
                unreachable!("matched above")
            };
            for part in prepare.parts(frame) {
                if tx.send(Item::Frame(part)).is_err() {
                    return;
                }
            }
        }
        if !send_whole(prepare, &mut whole, tx) {
            return;
        }
    }
}

/// A raster scene whose windows are being detected: its detections so far,
/// in scene pixels, and the window frame that stands for the scene.
struct SceneInProgress {
    frame: Frame,
    detections: Vec<tile::TileDetection>,
    windows: usize,
}

impl SceneInProgress {
    /// The merged scene, as the consumer receives it: one frame whose
    /// pixels stay in the file (see [`Frame`]).
    fn finish(self, merge: &MergeConfig) -> Detected {
        let mut frame = self.frame;
        frame.window = None;
        frame.image = Arc::new(image::RgbImage::new(0, 0));
        Detected {
            frame,
            detections: tile::merge(self.detections, merge),
        }
    }
}

/// Moves a window's detections into scene pixels, marking those cut by an
/// inner edge of the window.
fn place_window(
    window: &crate::frame::Window,
    index: usize,
    detections: Vec<Detection>,
    scene_w: u32,
    scene_h: u32,
) -> impl Iterator<Item = tile::TileDetection> + '_ {
    let t = Tile {
        x: window.x,
        y: window.y,
        width: window.width,
        height: window.height,
    };
    let s = window.scale as f32;
    detections.into_iter().map(move |mut d| {
        d.bbox = crate::geom::BBox::new(d.bbox.x1 * s, d.bbox.y1 * s, d.bbox.x2 * s, d.bbox.y2 * s);
        t.place(index, d, scene_w, scene_h)
    })
}

/// Prepares frames that are not sliced in parallel and sends them in
/// order; `false` once the receiver is gone.
fn send_whole(
    prepare: &Prepare,
    items: &mut Vec<Item<Frame>>,
    tx: &Sender<Item<Prepared>>,
) -> bool {
    let prepared: Vec<Item<Prepared>> = items
        .par_drain(..)
        .map(|item| item.map(|f| prepare.whole(f)))
        .collect();
    prepared.into_iter().all(|out| tx.send(out).is_ok())
}

fn inference_stage<D: Detector>(
    mut infer: Infer<D>,
    windows_merge: MergeConfig,
    batch_wait: Option<Duration>,
    rx: &Receiver<Item<Prepared>>,
    tx: &Sender<Item<Detected>>,
) -> Result<(D, PipelineStats), DetectError> {
    let batch = infer.batch();
    let mut stats = PipelineStats::default();
    let mut scenes: std::collections::HashMap<usize, SceneInProgress> = Default::default();
    // Messages in arrival order, waiting until their frames hold a batch of
    // tensors (one per frame, or one per tile). Control messages do not
    // close a batch, so frames of many small inputs (a folder of photos)
    // still share inference calls; a tiled frame fills batches with its
    // tiles.
    let mut queue: Vec<Item<()>> = Vec::with_capacity(batch * 2);
    let mut frames: Vec<Prepared> = Vec::with_capacity(batch);
    let mut open = true;
    while open || !queue.is_empty() {
        let mut waiting = 0;
        while open && waiting < batch {
            let next = match batch_wait {
                Some(wait) if waiting > 0 => match rx.recv_timeout(wait) {
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => break,
                    other => other.map_err(|_| crossbeam_channel::RecvError),
                },
                _ => rx.recv(),
            };
            match next {
                Ok(Item::Frame(p)) => {
                    waiting += p.tensors.len();
                    // A sliced frame comes out of `infer.run` once, with its
                    // last part.
                    if p.tiles.as_ref().is_none_or(|t| t.last) {
                        queue.push(Item::Frame(()));
                    }
                    frames.push(p);
                }
                Ok(other) => queue.push(other.map(|_| ())),
                Err(_) => open = false,
            }
        }
        let mut results = infer.run(std::mem::take(&mut frames))?.into_iter();
        for item in queue.drain(..) {
            let out = match item {
                Item::Frame(()) => {
                    let (frame, detections) = results.next().expect("one result per frame");
                    if let Some(window) = frame.window {
                        // A raster window: keep its detections until the
                        // scene's last window has been detected.
                        let (fw, fh) = (frame.meta.width, frame.meta.height);
                        let source_id = frame.meta.source_id;
                        let scene = scenes.entry(source_id).or_insert_with(|| SceneInProgress {
                            frame,
                            detections: Vec::new(),
                            windows: 0,
                        });
                        scene.detections.extend(place_window(
                            &window,
                            scene.windows,
                            detections,
                            fw,
                            fh,
                        ));
                        scene.windows += 1;
                        continue;
                    }
                    stats.frames += 1;
                    Item::Frame(Detected { frame, detections })
                }
                Item::Finished {
                    source_id,
                    path,
                    error,
                    gaps,
                    sampling,
                    sha256,
                } => {
                    // A raster's scene goes out just before its end, with
                    // what was detected even if reading failed part way.
                    if let Some(scene) = scenes.remove(&source_id) {
                        stats.frames += 1;
                        stats.windows += scene.windows as u64;
                        if tx.send(Item::Frame(scene.finish(&windows_merge))).is_err() {
                            return Ok(finish(infer, stats));
                        }
                    }
                    Item::Finished {
                        source_id,
                        path,
                        error,
                        gaps,
                        sampling,
                        sha256,
                    }
                }
                started @ Item::Started { .. } => {
                    started.map(|()| unreachable!("frames are matched above"))
                }
            };
            if tx.send(out).is_err() {
                return Ok(finish(infer, stats));
            }
        }
    }
    Ok(finish(infer, stats))
}

/// The detector back, with the inference figures added to `stats`.
fn finish<D: Detector>(infer: Infer<D>, mut stats: PipelineStats) -> (D, PipelineStats) {
    let (detector, s) = infer.into_parts();
    stats.inference_calls = s.calls;
    stats.inference_tensors = s.tensors;
    stats.non_finite = s.non_finite;
    stats.inference_time = s.time;
    (detector, stats)
}
