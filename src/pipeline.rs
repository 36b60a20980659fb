//! The batch screening pipeline: threads joined by bounded channels.
//!
//! ```text
//!                                              ┌▶ inference ─┐
//! decode workers ──▶ preprocess ──▶ batcher ───┤  workers    ├─▶ collector ──▶ caller's consumer
//! (one per input     (rayon)        (batches,  └▶ (one model ┘   (in batch     (signatures,
//!  at a time)                        numbered)     each)          order)        evidence)
//! ```
//!
//! Every channel is bounded and every send blocks, so batch mode never drops
//! a frame and memory stays flat however long the video. Each source's frames
//! stay in decode order end to end: decoding, preprocessing and batching each
//! have one consumer thread, and the collector puts the batches that the
//! workers finish back in the order they were numbered. A source's `Started`
//! and `Finished` messages travel in the same stream as its frames (with the
//! batch they were queued beside), so the consumer sees them in order. If the
//! consumer or a detector fails, the channels close and every thread winds
//! down.
//!
//! **Inference workers.** Each worker holds its own copy of the model. On a
//! CPU, two one-thread sessions side by side do more frames per second than
//! one two-thread session: a parallel operator waits at each step for its
//! slowest thread, and on a machine whose cores also decode, one of them is
//! always late. Workers take whole batches, so the parts of a sliced frame
//! may be detected by different workers; the collector joins them
//! ([`Assemble`]).
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

use crate::detect::step::{Assemble, Infer, Inferred, Prepare, Prepared};
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

/// Screens `inputs` with `detectors` (one inference worker each, at least
/// one), calling `consume` on this thread for every message in stream
/// order. The detectors come back in the order given.
pub fn run<D: Detector + 'static, E: std::error::Error + 'static>(
    inputs: &[Input],
    detectors: Vec<D>,
    options: &PipelineOptions,
    mut consume: impl FnMut(Item<Detected>) -> Result<(), E>,
) -> Result<(Vec<D>, PipelineStats), PipelineError<E>> {
    assert!(!detectors.is_empty(), "the pipeline needs a detector");
    let started = Instant::now();
    let prepare = Prepare::new(detectors[0].preprocess().clone(), options.tiling.clone());
    let merge = options.tiling.as_ref().map(|t| t.merge);
    let infers: Vec<Infer<D>> = detectors
        .into_iter()
        .map(|d| Infer::new(d, options.batch, merge))
        .collect();
    let batch = infers[0].batch();
    let windows_merge = options.open.raster.tiling.merge;

    let (decoded_tx, decoded_rx) = bounded::<Item<Frame>>(CHANNEL_FRAMES * batch);
    let (ready_tx, ready_rx) = bounded::<Item<Prepared>>(CHANNEL_FRAMES * batch);
    // One batch waiting per worker: enough to keep them all fed, and no
    // more, so that a batch's frames are not held back from adaptive
    // sampling's news.
    let (job_tx, job_rx) = bounded::<Job<Prepared>>(infers.len());
    let (done_tx, done_rx) = bounded::<Result<Job<Inferred>, DetectError>>(infers.len());
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
    let batcher = std::thread::Builder::new()
        .name("batcher".into())
        .spawn({
            let wait = options.batch_wait;
            move || batch_stage(batch, wait, &ready_rx, &job_tx)
        })
        .expect("spawning a thread");
    let inference: Vec<_> = infers
        .into_iter()
        .enumerate()
        .map(|(w, infer)| {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            std::thread::Builder::new()
                .name(format!("inference-{w}"))
                .spawn(move || inference_worker(infer, &rx, &tx))
                .expect("spawning a thread")
        })
        .collect();
    drop((job_rx, done_tx));
    let collector = std::thread::Builder::new()
        .name("collector".into())
        .spawn(move || collect_stage(Assemble::new(merge), windows_merge, &done_rx, &out_tx))
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
    let collected = collector.join().expect("collector thread panicked");
    let mut stats = PipelineStats::default();
    let mut detectors = Vec::with_capacity(inference.len());
    for w in inference {
        let (detector, s) = w.join().expect("inference thread panicked").into_parts();
        stats.inference_calls += s.calls;
        stats.inference_tensors += s.tensors;
        stats.non_finite += s.non_finite;
        stats.inference_time += s.time;
        detectors.push(detector);
    }
    batcher.join().expect("batcher thread panicked");
    pre.join().expect("preprocess thread panicked");
    for w in workers {
        w.join().expect("decode thread panicked");
    }
    let (frames, windows) = collected?;
    if let Some(e) = consumer_error {
        return Err(PipelineError::Consumer(e));
    }
    stats.frames = frames;
    stats.windows = windows;
    stats.wall_time = started.elapsed();
    Ok((detectors, stats))
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

/// A numbered batch on its way through the inference workers: its frames
/// (prepared, then detected), and the messages queued among them, in
/// arrival order, `Item::Frame(())` marking where a frame's result goes.
struct Job<T> {
    number: u64,
    frames: Vec<T>,
    queue: Vec<Item<()>>,
}

/// Gathers prepared frames into batches of `batch` tensors and numbers
/// them. With `batch_wait`, a batch goes once that long has passed without
/// another frame, full or not. Control messages do not close a batch, so
/// frames of many small inputs (a folder of photos) still share inference
/// calls; a tiled frame fills batches with its tiles.
fn batch_stage(
    batch: usize,
    batch_wait: Option<Duration>,
    rx: &Receiver<Item<Prepared>>,
    tx: &Sender<Job<Prepared>>,
) {
    let mut number = 0;
    let mut open = true;
    while open {
        let mut job = Job {
            number,
            frames: Vec::with_capacity(batch),
            queue: Vec::with_capacity(batch * 2),
        };
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
                    // A sliced frame comes out of the assembler once, with
                    // its last part.
                    if p.tiles.as_ref().is_none_or(|t| t.last) {
                        job.queue.push(Item::Frame(()));
                    }
                    job.frames.push(p);
                }
                Ok(other) => job.queue.push(other.map(|_| ())),
                Err(_) => open = false,
            }
        }
        if job.frames.is_empty() && job.queue.is_empty() {
            continue;
        }
        if tx.send(job).is_err() {
            return;
        }
        number += 1;
    }
}

/// Detects the batches it is given until there are no more, or until the
/// collector is gone; the first failure goes to the collector, and the
/// worker stops.
fn inference_worker<D: Detector>(
    mut infer: Infer<D>,
    rx: &Receiver<Job<Prepared>>,
    tx: &Sender<Result<Job<Inferred>, DetectError>>,
) -> Infer<D> {
    for job in rx {
        let done = infer.detect(job.frames).map(|frames| Job {
            number: job.number,
            frames,
            queue: job.queue,
        });
        let failed = done.is_err();
        if tx.send(done).is_err() || failed {
            break;
        }
    }
    infer
}

/// Puts finished batches back in order, joins the parts of sliced frames
/// and the windows of raster scenes, and sends every message on in stream
/// order. Returns the frames and raster windows sent, or the first
/// detector failure.
fn collect_stage(
    mut assemble: Assemble,
    windows_merge: MergeConfig,
    rx: &Receiver<Result<Job<Inferred>, DetectError>>,
    tx: &Sender<Item<Detected>>,
) -> Result<(u64, u64), DetectError> {
    let (mut frames, mut windows) = (0, 0);
    let mut scenes: std::collections::HashMap<usize, SceneInProgress> = Default::default();
    // Batches finished ahead of their turn (one per worker at most).
    let mut early: std::collections::BTreeMap<u64, Job<Inferred>> = Default::default();
    let mut turn = 0;
    for done in rx {
        let job = done?;
        early.insert(job.number, job);
        while let Some(job) = early.remove(&turn) {
            turn += 1;
            // Every part goes to the assembler, also those of a sliced
            // frame whose last part comes in a later batch.
            let assembled: Vec<(Frame, Vec<Detection>)> = job
                .frames
                .into_iter()
                .filter_map(|p| assemble.push(p))
                .collect();
            let mut results = assembled.into_iter();
            for item in job.queue {
                let out = match item {
                    Item::Frame(()) => {
                        let (frame, detections) = results.next().expect("one result per frame");
                        if let Some(window) = frame.window {
                            // A raster window: keep its detections until
                            // the scene's last window has been detected.
                            let (fw, fh) = (frame.meta.width, frame.meta.height);
                            let source_id = frame.meta.source_id;
                            let scene =
                                scenes.entry(source_id).or_insert_with(|| SceneInProgress {
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
                        frames += 1;
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
                        // A raster's scene goes out just before its end,
                        // with what was detected even if reading failed
                        // part way.
                        if let Some(scene) = scenes.remove(&source_id) {
                            frames += 1;
                            windows += scene.windows as u64;
                            if tx.send(Item::Frame(scene.finish(&windows_merge))).is_err() {
                                return Ok((frames, windows));
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
                    return Ok((frames, windows));
                }
            }
        }
    }
    Ok((frames, windows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{ChannelOrder, Layout, Preprocess, Resize, Tensorised};
    use crate::geom::BBox;
    use crate::source::raster::RasterOptions;
    use crate::source::{InputKind, Sampling};

    /// One box per tensor whose score is the tensor's first value over
    /// 255 (an image's grey level tells which image it came from); sleeps
    /// `delay` per call, and fails at call `fail_at`.
    struct Fake {
        preprocess: Preprocess,
        delay: Duration,
        calls: usize,
        fail_at: Option<usize>,
    }

    impl Fake {
        fn new(delay_ms: u64) -> Fake {
            Fake {
                preprocess: Preprocess {
                    input_w: 8,
                    input_h: 8,
                    resize: Resize::Stretch,
                    layout: Layout::Nchw,
                    channels: ChannelOrder::Rgb,
                    scale: 1.0,
                    mean: [0.0; 3],
                    std: [1.0; 3],
                    pad_value: 0,
                },
                delay: Duration::from_millis(delay_ms),
                calls: 0,
                fail_at: None,
            }
        }
    }

    impl Detector for Fake {
        fn preprocess(&self) -> &Preprocess {
            &self.preprocess
        }
        fn labels(&self) -> &[String] {
            &[]
        }
        fn max_batch(&self) -> usize {
            2
        }
        fn detect(&mut self, batch: &[Tensorised]) -> Result<Vec<Vec<Detection>>, DetectError> {
            self.calls += 1;
            if self.fail_at == Some(self.calls) {
                return Err(DetectError::Unsupported {
                    path: "fake.onnx".into(),
                    reason: "failing on purpose".into(),
                });
            }
            std::thread::sleep(self.delay);
            Ok(batch
                .iter()
                .map(|t| {
                    vec![Detection {
                        class_id: 0,
                        score: t.data[0] / 255.0,
                        bbox: BBox::new(2.0, 2.0, 6.0, 6.0),
                    }]
                })
                .collect())
        }
    }

    fn options(tiling: Option<Tiling>) -> PipelineOptions {
        PipelineOptions {
            open: OpenOptions {
                sampling: Sampling::default(),
                decode_threads: 1,
                raster: RasterOptions {
                    config: Default::default(),
                    tiling: Tiling::with_size(640),
                },
                telemetry: None,
                geo: Default::default(),
                feedback: None,
                probe_for: None,
            },
            // One input at a time, so the whole stream has one order (with
            // more, inputs interleave; each keeps its own order).
            decode_workers: 1,
            batch: 2,
            hash_sources: false,
            tiling,
            batch_wait: None,
        }
    }

    /// Grey images, image `i` at level `10 * (i + 1)`, and one large one.
    fn images(dir: &std::path::Path, n: usize, big: Option<(u32, u32)>) -> Vec<Input> {
        let mut inputs: Vec<Input> = (0..n)
            .map(|i| {
                let path = dir.join(format!("{i:02}.png"));
                let grey = 10 * (i as u8 + 1);
                image::RgbImage::from_pixel(40, 30, image::Rgb([grey; 3]))
                    .save(&path)
                    .unwrap();
                Input {
                    path,
                    kind: InputKind::Image,
                }
            })
            .collect();
        if let Some((w, h)) = big {
            let path = dir.join("big.png");
            image::RgbImage::from_fn(w, h, |x, y| image::Rgb([((x * 7 + y * 3) % 250) as u8; 3]))
                .save(&path)
                .unwrap();
            inputs.insert(
                n / 2,
                Input {
                    path,
                    kind: InputKind::Image,
                },
            );
        }
        inputs
    }

    /// Every message as (kind, source, scores of the frame's detections).
    fn stream(
        inputs: &[Input],
        detectors: Vec<Fake>,
        options: &PipelineOptions,
    ) -> (Vec<(char, usize, Vec<f32>)>, PipelineStats) {
        let mut seen = Vec::new();
        let (_, stats) = run(inputs, detectors, options, |item| {
            seen.push(match item {
                Item::Started { source_id, .. } => ('S', source_id, Vec::new()),
                Item::Frame(d) => (
                    'F',
                    d.frame.meta.source_id,
                    d.detections.iter().map(|d| d.score).collect(),
                ),
                Item::Finished {
                    source_id, error, ..
                } => {
                    assert!(error.is_none(), "{error:?}");
                    ('E', source_id, Vec::new())
                }
            });
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap();
        (seen, stats)
    }

    #[test]
    fn workers_of_unequal_speed_keep_stream_order_and_results() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = images(dir.path(), 13, None);
        let one = stream(&inputs, vec![Fake::new(0)], &options(None)).0;
        // The first worker is slow: the second finishes later batches
        // first, and the collector must put them back in order.
        let (two, stats) = stream(&inputs, vec![Fake::new(15), Fake::new(0)], &options(None));
        assert_eq!(one, two);
        assert_eq!(stats.frames, 13);
        assert_eq!(stats.inference_tensors, 13);
        for (i, chunk) in two.chunks(3).enumerate() {
            let kinds: Vec<char> = chunk.iter().map(|m| m.0).collect();
            assert_eq!(kinds, vec!['S', 'F', 'E'], "source {i}");
            assert!(chunk.iter().all(|m| m.1 == i));
            let expected = 10.0 * (i as f32 + 1.0) / 255.0;
            assert!(
                (chunk[1].2[0] - expected).abs() < 1e-4,
                "source {i}: {:?}",
                chunk[1].2
            );
        }
    }

    #[test]
    fn a_sliced_frame_split_across_workers_merges_as_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = images(dir.path(), 4, Some((700, 500)));
        let tiling = Some(Tiling::with_size(64));
        let one = stream(&inputs, vec![Fake::new(0)], &options(tiling.clone())).0;
        let (three, stats) = stream(
            &inputs,
            vec![Fake::new(3), Fake::new(0), Fake::new(1)],
            &options(tiling),
        );
        assert_eq!(one, three);
        assert_eq!(stats.frames, 5);
        let big = three.iter().find(|m| m.0 == 'F' && m.1 == 2).unwrap();
        // One box per tile: none of them overlap.
        assert_eq!(big.2.len() as u64, stats.inference_tensors - 4);
        assert!(
            stats.inference_tensors > 100,
            "{} tensors",
            stats.inference_tensors
        );
    }

    #[test]
    fn a_failing_worker_stops_the_run_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = images(dir.path(), 12, None);
        let mut failing = Fake::new(0);
        failing.fail_at = Some(2);
        let mut frames = 0;
        let result = run(
            &inputs,
            vec![Fake::new(2), failing],
            &options(None),
            |item| {
                frames += matches!(item, Item::Frame(_)) as usize;
                Ok::<(), std::convert::Infallible>(())
            },
        );
        match result {
            Err(PipelineError::Detect(DetectError::Unsupported { reason, .. })) => {
                assert_eq!(reason, "failing on purpose")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("the failure was lost"),
        }
        assert!(frames < 12, "{frames} frames");
    }
}
