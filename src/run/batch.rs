//! The batch driver (`lookout screen`): recorded video, images, rasters and
//! folders through the [`pipeline`](crate::pipeline), one [`Stream`] per
//! input, every result into the sinks.
//!
//! A bad input is reported with its path, counted, and skipped; the rest
//! of the batch goes on. If the run itself fails (the detector, a sink),
//! the events still open are closed so their evidence is kept, and the run
//! is sealed as `failed`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::session::{checkpoint, seal};
use super::{shard, Outcome, RunError, RunFolder, Session};
use crate::event::{EventUpdate, Step};
use crate::evidence::record::{ResumeNote, RunMode, RunRecord, RunStatus, SourceRecord, Summary};
use crate::evidence::Withdraw;
use crate::pipeline::{self, Detected, Item, PipelineError, PipelineOptions};
use crate::sink::SharedRun;
use crate::sink::{emit, ScreenSink, Screened, SinkError, StreamRef};
use crate::source::adaptive::{Feedback, SampleMode};
use crate::source::{self, raster::RasterOptions, Input, OpenOptions};
use crate::stream::Stream;

/// What to screen, and how.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Files and folders (walked recursively).
    pub inputs: Vec<PathBuf>,
    pub folder: RunFolder,
    /// Inputs decoded at the same time.
    pub jobs: usize,
    /// Progress bars on stderr (only when it is a terminal).
    pub progress: bool,
    /// A telemetry file for the run's one video (`--telemetry`).
    pub telemetry: Option<PathBuf>,
    /// `--shard`: screen only this part of the inputs.
    pub shard: Option<shard::ShardSpec>,
}

fn emit_events(
    sinks: &mut [ScreenSink],
    stream: &StreamRef,
    updates: &[EventUpdate],
) -> Result<(), SinkError> {
    if updates.is_empty() {
        return Ok(());
    }
    emit(
        sinks,
        &Screened::Events {
            stream,
            updates,
            arrived: None,
        },
    )
}

/// Why the pipeline's consumer stopped it.
#[derive(Debug, thiserror::Error)]
enum Halt {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("interrupted by a signal (SIGINT or SIGTERM)")]
    Interrupted,
}

/// How often `run.json` is rewritten while an input is screened, so that a
/// killed run still says how far each input got.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// With adaptive sampling, how long inference waits for the rest of a
/// batch: a source may be waiting for the news of the frames it sent.
const BATCH_WAIT: Duration = Duration::from_millis(5);

/// Screens `options.inputs` and seals the run folder.
pub fn screen(mut session: Session, options: &BatchOptions) -> Result<Outcome, RunError> {
    let t0 = Instant::now();
    // Batch screening samples video adaptively unless told otherwise: the
    // same events as at full rate, at a fraction of the inferences. The
    // run records the mode, so a resume keeps it.
    session
        .config
        .sampling
        .mode
        .get_or_insert(SampleMode::Adaptive);
    let (found, discover_errors) = source::discover_under(&options.inputs);
    for e in &discover_errors {
        tracing::error!("{e}");
    }
    if found.is_empty() {
        return Err(RunError::NoInputs(
            options
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let Some(spec) = &options.shard else {
        let inputs: Vec<Input> = found.into_iter().map(|f| f.input).collect();
        let (run, mut record, sinks) = session.open_run(&options.folder, RunMode::Screen)?;
        record.sources = inputs.iter().map(source_record).collect();
        record.errors = discover_errors.iter().map(|e| e.to_string()).collect();
        let todo = (0..inputs.len()).zip(inputs).collect();
        return drive(session, options, run, record, sinks, todo, t0);
    };
    let plan = shard::plan(spec, &options.inputs, found)?;
    tracing::info!(
        shard = %spec.shard,
        by = spec.by.name(),
        inputs = plan.picked.len(),
        of = plan.record.inputs_total,
        "shard"
    );
    if let Some(run_id) = &options.folder.run_id {
        let dir = options.folder.out.join(run_id);
        if dir.exists() && !never_started(&dir) {
            return retry(session, &dir, options, &plan);
        }
    }
    let (run, mut record, sinks) = session.open_run(&options.folder, RunMode::Screen)?;
    record.sources = plan
        .picked
        .iter()
        .map(|(i, input)| SourceRecord {
            index: Some(*i),
            ..source_record(input)
        })
        .collect();
    // Inputs that could not be listed are the batch's errors, not one
    // shard's: shard 0 records them, so that the union counts each once.
    if spec.shard.k == 0 {
        record.errors = discover_errors.iter().map(|e| e.to_string()).collect();
    }
    record.shard = Some(plan.record);
    let todo = plan
        .picked
        .into_iter()
        .enumerate()
        .map(|(at, (_, input))| (at, input))
        .collect();
    drive(session, options, run, record, sinks, todo, t0)
}

/// Whether the run folder `dir` was left by a sharded run killed before it
/// wrote its `run.json`: nothing in it but the empty logs, the lock of a
/// process that is gone and the disk reserve. It is removed, and the
/// shard starts again.
fn never_started(dir: &Path) -> bool {
    use crate::evidence::lock::{holder, Holder, LOCK_FILE};
    if dir.join("run.json").exists() || !matches!(holder(dir), Holder::Gone) {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut files = Vec::new();
    for e in entries {
        let Ok(e) = e else { return false };
        let name = e.file_name().to_string_lossy().into_owned();
        let empty_log = matches!(name.as_str(), "events.jsonl" | "manifest.jsonl")
            && e.metadata().is_ok_and(|m| m.is_file() && m.len() == 0);
        if !(empty_log || name == LOCK_FILE || name == crate::evidence::RESERVE_FILE) {
            return false;
        }
        files.push(e.path());
    }
    tracing::warn!(
        "{}: left by a run killed before it started; starting it again",
        dir.display()
    );
    files.iter().all(|f| std::fs::remove_file(f).is_ok()) && std::fs::remove_dir(dir).is_ok()
}

/// The shard `plan` again, into its run folder `dir`, which exists: a
/// scheduler's retry of a task is the same command again. Resumed when it
/// is the same shard of the same list and did not finish; left as it is
/// when it finished; refused when it is another run.
fn retry(
    session: Session,
    dir: &Path,
    options: &BatchOptions,
    plan: &shard::Plan,
) -> Result<Outcome, RunError> {
    let refuse = |why: String| RunError::Retry {
        dir: dir.to_owned(),
        why,
    };
    let record = RunRecord::read(dir).map_err(|e| refuse(format!("cannot be read ({e})")))?;
    let Some(theirs) = &record.shard else {
        return Err(refuse("holds an unsharded run".into()));
    };
    let ours = &plan.record;
    let describe = |r: &crate::evidence::record::ShardRecord| {
        format!(
            "shard {}/{} by {}{} of a list of {} input(s) with sha256 {}",
            r.k,
            r.n,
            r.by,
            r.root
                .as_ref()
                .map(|p| format!(" under {}", p.display()))
                .unwrap_or_default(),
            r.inputs_total,
            r.inputs_sha256
        )
    };
    if theirs != ours {
        return Err(refuse(format!(
            "holds {}, not {}",
            describe(theirs),
            describe(ours)
        )));
    }
    let theirs_paths: Vec<&Path> = record.sources.iter().map(|s| s.path.as_path()).collect();
    let ours_paths: Vec<&Path> = plan.picked.iter().map(|(_, i)| i.path.as_path()).collect();
    if theirs_paths != ours_paths {
        return Err(refuse(format!(
            "holds the same {}, but its inputs are named by other paths (the first: {})",
            describe(ours),
            theirs_paths
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )));
    }
    let mut now = session.config.recorded();
    let mut then = record.config.clone();
    // The model is checked by its sha256 on resume; where and how fast it
    // runs may change between attempts.
    for c in [&mut now, &mut then] {
        if let Some(m) = c.as_object_mut() {
            m.remove("model");
        }
    }
    if now != then {
        return Err(refuse(
            "holds the same shard screened with another config (detector, sampling, signatures or tiles)"
                .into(),
        ));
    }
    match record.status_now(dir) {
        RunStatus::Finished => {
            eprintln!(
                "{}: shard {}/{} already finished; nothing to do",
                dir.display(),
                ours.k,
                ours.n
            );
            Ok(Outcome {
                errors: 0,
                events: 0,
                dir: dir.to_owned(),
            })
        }
        RunStatus::Running => Err(refuse(format!("is {}", record.status_line(dir)))),
        RunStatus::Failed | RunStatus::Interrupted => {
            tracing::info!(run = %dir.display(), "resuming the shard's stopped run");
            resume(
                session,
                dir,
                &BatchOptions {
                    inputs: Vec::new(),
                    ..options.clone()
                },
            )
        }
    }
}

/// Continues the screen run in folder `dir`, which stopped before it
/// finished (killed, failed, interrupted): inputs that finished, and whose
/// sha256 still holds, are skipped; the others are screened again from
/// their start, in place of what the stopped attempt wrote for them; new
/// `options.inputs` are added. The resume is recorded in the manifest
/// (`resumes/<n>.json`) and in `run.json`. `options.folder` and
/// `options.telemetry` are not used: the run is `dir`, with its own
/// settings.
pub fn resume(session: Session, dir: &Path, options: &BatchOptions) -> Result<Outcome, RunError> {
    let t0 = Instant::now();
    let refuse = |message: String| {
        RunError::Evidence(crate::evidence::EvidenceError::Resume {
            path: dir.to_owned(),
            message,
        })
    };
    let mut record = RunRecord::read(dir).map_err(|e| refuse(e.to_string()))?;
    if record.mode != RunMode::Screen {
        return Err(refuse(format!(
            "it is a {:?} run; only screen runs can be resumed",
            record.mode
        )));
    }
    let previous_status = record.status_now(dir);
    match previous_status {
        RunStatus::Finished => {
            return Err(refuse(
                "it finished; screen new inputs into a new run".into(),
            ))
        }
        RunStatus::Running => return Err(refuse(format!("it is {}", record.status_line(dir)))),
        RunStatus::Failed | RunStatus::Interrupted => {}
    }
    if session.info.sha256 != record.model.sha256 {
        return Err(refuse(format!(
            "its model {} had sha256 {}, but the file now has {}",
            record.model.path.display(),
            record.model.sha256,
            session.info.sha256
        )));
    }

    // Which inputs to screen: those not finished, those that changed, and
    // new ones.
    let mut todo: Vec<(usize, Input)> = Vec::new();
    let mut skipped: Vec<usize> = Vec::new();
    // The inputs screened again, by index in `record.sources`.
    let mut again: std::collections::BTreeMap<usize, PathBuf> = Default::default();
    for (i, src) in record.sources.iter().enumerate() {
        if src.finished {
            match crate::digest::sha256_file(&src.path) {
                Ok(sha) if Some(&sha) == src.sha256.as_ref() => {
                    skipped.push(i);
                    continue;
                }
                Ok(_) => tracing::warn!(
                    "{}: changed since it was screened; screening it again",
                    src.path.display()
                ),
                Err(_) => {
                    tracing::warn!(
                        "{}: finished in the stopped attempt but cannot be read now; its results are kept",
                        src.path.display()
                    );
                    skipped.push(i);
                    continue;
                }
            }
        }
        again.insert(i, src.path.clone());
    }
    if record.shard.is_some() && !options.inputs.is_empty() {
        return Err(refuse(
            "it is a shard of a batch (screen --shard), whose inputs are fixed; \
             screen more inputs into a new run"
                .into(),
        ));
    }
    // What the stopped attempt wrote names each input by its stream id:
    // its index in the whole list for a shard.
    let withdraw = Withdraw {
        sources: again
            .iter()
            .map(|(&i, p)| (record.sources[i].index.unwrap_or(i), p.clone()))
            .collect(),
    };
    let (more, discover_errors) = source::discover(&options.inputs);
    for e in &discover_errors {
        tracing::error!("{e}");
    }
    // Withdrawn inputs that cannot be read now: an input error each, as a
    // missing input is.
    let mut gone: Vec<usize> = Vec::new();
    for (&i, path) in &again {
        let (mut found, errors) = source::discover(std::slice::from_ref(path));
        match found.pop() {
            Some(input) if errors.is_empty() => todo.push((i, input)),
            _ => {
                errors.iter().for_each(|e| tracing::error!("{e}"));
                gone.push(i);
            }
        }
    }
    for input in more {
        if record.sources.iter().any(|s| s.path == input.path) {
            continue;
        }
        record.sources.push(source_record(&input));
        todo.push((record.sources.len() - 1, input));
    }

    let previous_line = record.status_line(dir);
    let (writer, resumed) = crate::evidence::RunWriter::resume(
        dir,
        crate::evidence::seal::RunSigner::load_or_create()?,
        &withdraw,
    )?;
    let run = SharedRun::new(writer);
    let n = resumed.resume;
    let note_path = format!("resumes/{n}.json");
    let at = crate::clock::now_rfc3339();
    let note = serde_json::json!({
        "resume": n,
        "resumed_at": &at,
        "command": std::env::args().collect::<Vec<_>>(),
        "tool": crate::evidence::record::ToolRecord::this(),
        "previous_status": previous_status,
        "previous_status_line": previous_line,
        "previous_error": record.summary.as_ref().and_then(|s| s.error.clone()),
        "skipped": skipped.iter().map(|&i| &record.sources[i].path).collect::<Vec<_>>(),
        "screened": todo.iter().map(|(_, i)| &i.path).collect::<Vec<_>>(),
        "found": &resumed,
    });
    run.lock().put(
        &note_path,
        &serde_json::to_vec_pretty(&note).expect("records serialise"),
    )?;
    for (i, src) in record.sources.iter_mut().enumerate() {
        if again.contains_key(&i) {
            *src = SourceRecord {
                path: src.path.clone(),
                kind: src.kind.clone(),
                index: src.index,
                ..Default::default()
            };
            if gone.contains(&i) {
                src.error = Some(format!("{}: cannot be read on resume", src.path.display()));
                src.finished = true;
            }
        }
    }
    record
        .errors
        .extend(discover_errors.iter().map(|e| e.to_string()));
    record.resumes.push(ResumeNote {
        resume: n,
        at,
        record: note_path,
        previous_status,
        skipped: skipped.len(),
        screened: todo.len(),
    });
    record.status = RunStatus::Running;
    record.finished_at = None;
    record.summary = None;
    tracing::info!(
        run = %dir.display(),
        skipped = skipped.len(),
        screening = todo.len(),
        withdrawn_events = resumed.withdrawn_events.len(),
        "resuming"
    );
    let save_detections = record
        .outputs
        .iter()
        .any(|o| o == crate::sink::detections::FILE);
    let mut sinks = session.sinks(&run, save_detections);
    sinks.extend(session.store_sink(&run, &record, &resumed.withdrawn_events)?);
    drive(session, options, run, record, sinks, todo, t0)
}

fn source_record(input: &Input) -> SourceRecord {
    SourceRecord {
        path: input.path.clone(),
        kind: serde_json::to_value(input.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned)),
        ..Default::default()
    }
}

/// Screens `todo` (each input with its index in `record.sources`) into the
/// open run, and seals it.
fn drive(
    mut session: Session,
    options: &BatchOptions,
    run: SharedRun,
    mut record: RunRecord,
    mut sinks: Vec<ScreenSink>,
    todo: Vec<(usize, Input)>,
    t0: Instant,
) -> Result<Outcome, RunError> {
    super::signal::arm(|| {})?;
    checkpoint(&run, &record)?;
    let (ids, inputs): (Vec<usize>, Vec<Input>) = todo.into_iter().unzip();
    // Each input's stream id, which its event ids and detections carry:
    // its index in the run, or, in a shard, in the whole list.
    let streams_ref: Vec<StreamRef> = record
        .sources
        .iter()
        .enumerate()
        .map(|(id, s)| StreamRef {
            id: s.index.unwrap_or(id),
            name: s
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: s.path.clone(),
        })
        .collect();

    let multi = MultiProgress::with_draw_target(
        if options.progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    let style = progress_style("{prefix:30!} {bar:30} {pos}/{len} frames {rate:>10} ETA {eta}");
    let mut bars: HashMap<usize, ProgressBar> = HashMap::new();
    let mut streams: HashMap<usize, Stream> = HashMap::new();
    // Inputs whose latest keyframe probe was rejected, and the accepted
    // probe each input's consumer holds.
    let mut rejecting: std::collections::HashSet<usize> = Default::default();
    let mut held: HashMap<usize, Detected> = HashMap::new();
    let config = &session.config;
    let adaptive = config.sampling.mode() == SampleMode::Adaptive;
    let feedback = adaptive.then(|| Arc::new(Feedback::batch()));
    // Keyframe probes are converted straight to the detector's input size,
    // unless frames are cut into tiles (which need every pixel).
    let probe_for = session
        .tiling()
        .is_none()
        .then(|| session.preprocess().clone());
    let pipeline_options = PipelineOptions {
        open: OpenOptions {
            sampling: config.sampling.sampling(),
            decode_threads: config.sampling.decode_threads(),
            feedback: feedback.clone(),
            probe_for,
            raster: RasterOptions {
                config: config.raster.clone(),
                tiling: session.raster_tiling(),
            },
            telemetry: options.telemetry.clone(),
            geo: config.geo.clone(),
        },
        decode_workers: options.jobs.max(1),
        batch: config.model.batch,
        hash_sources: true,
        tiling: session.tiling(),
        batch_wait: adaptive.then_some(BATCH_WAIT),
    };
    let stride = config.sampling.stride;
    let detectors = session.take_detectors()?;
    let workers = detectors.len();
    let mut last_checkpoint = Instant::now();

    let result = pipeline::run(&inputs, detectors, &pipeline_options, |item| {
        if super::signal::requested() {
            return Err(Halt::Interrupted);
        }
        // Keyframe probes are judged before they are screened (see
        // `source::adaptive`). One where something may be is rejected, with
        // the probe held before it and those sent after it; the source then
        // decodes again from the last probe screened, inferring every frame
        // from the held probe on. An accepted probe is held until the next frame of its
        // input, so that a rejection reaches two stretches back: an event
        // the probe before missed is still seen from its start.
        let mut ready: Vec<Detected> = Vec::with_capacity(2);
        let item = match item {
            Item::Frame(d) if d.frame.meta.probe => {
                let (source_id, seq) = (d.frame.meta.source_id, d.frame.meta.seq);
                let id = ids[source_id];
                if rejecting.contains(&id) {
                    return Ok(());
                }
                let stream = streams.get(&id).expect("Started precedes frames");
                if stream.wakes(&d.detections) {
                    if let Some(board) = &feedback {
                        board.reject(source_id, seq);
                    }
                    rejecting.insert(id);
                    held.remove(&id);
                    return Ok(());
                }
                if let Some(board) = &feedback {
                    board.report(source_id, seq, false);
                }
                ready.extend(held.insert(id, d));
                None
            }
            Item::Frame(d) => {
                let id = ids[d.frame.meta.source_id];
                rejecting.remove(&id);
                ready.extend(held.remove(&id));
                ready.push(d);
                None
            }
            Item::Finished { source_id, .. } => {
                ready.extend(held.remove(&ids[source_id]));
                Some(item)
            }
            other => Some(other),
        };
        for Detected {
            mut frame,
            detections,
        } in ready
        {
            let (source_id, seq) = (frame.meta.source_id, frame.meta.seq);
            let id = ids[source_id];
            frame.meta.source_id = streams_ref[id].id;
            let rec = &mut record.sources[id];
            rec.frames_screened += 1;
            if let Some(bar) = bars.get(&id) {
                // Where in the input, also when adaptive sampling
                // passes frames over.
                bar.set_position(frame.meta.frame_index / stride.max(1) + 1);
            }
            if let Some(scene) = &frame.scene {
                rec.tiles = Some(scene.tile_counts());
                if scene.georef.is_some() {
                    rec.detections_placed += detections.len() as u64;
                }
            } else if frame.meta.ground.is_some() || frame.meta.unplaced.is_some() {
                let method = frame.meta.ground.as_ref().map(|g| g.model.method.name());
                if method.is_some() {
                    rec.detections_placed += detections.len() as u64;
                }
                rec.placement
                    .get_or_insert_with(Default::default)
                    .note(method, frame.meta.unplaced.as_deref());
            }
            let stream = streams.get_mut(&id).expect("Started precedes frames");
            let observed = stream.observe(&frame, &detections);
            // A probe's news went out when it was judged.
            if let Some(board) = feedback.as_ref().filter(|_| !frame.meta.probe) {
                board.report(source_id, seq, stream.busy());
            }
            rec.events += observed
                .updates
                .iter()
                .filter(|u| u.step == Step::Open)
                .count() as u64;
            let stream_ref = &streams_ref[id];
            emit(
                &mut sinks,
                &Screened::Frame {
                    stream: stream_ref,
                    frame: &frame,
                    detections: &detections,
                    tracks: &observed.tracks,
                },
            )?;
            emit_events(&mut sinks, stream_ref, &observed.updates)?;
            if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                run.lock()
                    .write_run_json(&record)
                    .map_err(SinkError::from)?;
                last_checkpoint = Instant::now();
            }
        }
        let Some(item) = item else {
            return Ok(());
        };
        match item {
            Item::Frame(_) => unreachable!("frames are screened above"),
            Item::Started {
                source_id,
                path: _,
                info,
            } => {
                let id = ids[source_id];
                let rec = &mut record.sources[id];
                let expected = info.frames_hint.map(|n| n.div_ceil(stride)).unwrap_or(0);
                rec.info = serde_json::to_value(&info).ok();
                let bar = multi.add(ProgressBar::new(expected).with_style(style.clone()));
                bar.set_prefix(streams_ref[id].name.clone());
                bars.insert(id, bar);
                streams.insert(id, session.stream(streams_ref[id].id, &session.signatures));
            }
            Item::Finished {
                source_id,
                path,
                error,
                gaps,
                sampling,
                sha256,
            } => {
                if let Some(board) = &feedback {
                    board.forget(source_id);
                }
                let id = ids[source_id];
                record.sources[id].sha256 = sha256;
                if let Some(counts) = &sampling {
                    tracing::debug!(path = %path.display(), ?counts, "sampling");
                }
                record.sources[id].sampling = sampling;
                if !gaps.is_empty() {
                    let frames: u64 = gaps.iter().map(|g| g.frames).sum();
                    let spans: Vec<String> = gaps
                        .iter()
                        .map(|g| format!("{:.1}–{:.1} s", g.from_s, g.to_s))
                        .collect();
                    tracing::warn!(
                        "{}: {} damaged stretch(es) could not be decoded, {frames} frame(s) lost: {}",
                        path.display(),
                        gaps.len(),
                        spans.join(", ")
                    );
                    record.sources[id].gaps = gaps;
                }
                if let Some(bar) = bars.remove(&id) {
                    bar.finish();
                }
                if let Some(mut stream) = streams.remove(&id) {
                    let reason = if error.is_some() {
                        "input failed"
                    } else {
                        "end of input"
                    };
                    emit_events(&mut sinks, &streams_ref[id], &stream.finish(reason))?;
                }
                if let Some(e) = error {
                    tracing::error!("{e}");
                    record.sources[id].error = Some(e.to_string());
                } else {
                    tracing::debug!(path = %path.display(), frames = record.sources[id].frames_screened, "input done");
                }
                // Its events are closed and written: a resume skips it.
                record.sources[id].finished = true;
                run.lock()
                    .write_run_json(&record)
                    .map_err(SinkError::from)?;
                last_checkpoint = Instant::now();
            }
        }
        Ok::<(), Halt>(())
    });
    super::signal::disarm();

    let stats = match result {
        Ok((_, stats)) => stats,
        Err(e) => {
            let interrupted = matches!(e, PipelineError::Consumer(Halt::Interrupted));
            // Close the events still open, so their evidence is kept, then
            // seal what was written; the run is marked failed or
            // interrupted, and `--resume` screens its unfinished inputs
            // again.
            let reason = if interrupted {
                "run interrupted"
            } else {
                "run failed"
            };
            let mut open: Vec<usize> = streams.keys().copied().collect();
            open.sort_unstable();
            for id in open {
                if let Some(mut stream) = streams.remove(&id) {
                    if let Err(w) =
                        emit_events(&mut sinks, &streams_ref[id], &stream.finish(reason))
                    {
                        tracing::error!("{w}");
                    }
                }
            }
            for s in &mut sinks {
                if let Err(w) = s.finish() {
                    tracing::error!("{w}");
                }
            }
            drop(sinks);
            let e: RunError = match e {
                PipelineError::Detect(e) => e.into(),
                PipelineError::Consumer(Halt::Sink(e)) => e.into(),
                PipelineError::Consumer(Halt::Interrupted) => RunError::Interrupted {
                    dir: run.lock().dir().to_owned(),
                },
            };
            record.status = if interrupted {
                RunStatus::Interrupted
            } else {
                RunStatus::Failed
            };
            record.finished_at = Some(crate::clock::now_rfc3339());
            record.summary = Some(Summary {
                error: Some(if interrupted {
                    Halt::Interrupted.to_string()
                } else {
                    format!("{e:#}")
                }),
                stopped_by: interrupted.then(|| "signal".into()),
                ..Default::default()
            });
            if let Err(w) = seal(run, &record) {
                tracing::error!("{w}");
            }
            return Err(e);
        }
    };
    for s in &mut sinks {
        s.finish()?;
    }
    drop(sinks);

    let inputs_total = record.sources.len() + record.errors.len();
    let errors = record.errors.len() + record.sources.iter().filter(|s| s.error.is_some()).count();
    let frames: u64 = record.sources.iter().map(|s| s.frames_screened).sum();
    let events: u64 = record.sources.iter().map(|s| s.events).sum();
    let wall = t0.elapsed().as_secs_f64();
    let pipeline_s = stats.wall_time.as_secs_f64().max(1e-9);
    let frames_now: u64 = ids.iter().map(|&i| record.sources[i].frames_screened).sum();
    let gap_count: usize = record.sources.iter().map(|s| s.gaps.len()).sum();
    let frames_lost: u64 = record
        .sources
        .iter()
        .flat_map(|s| &s.gaps)
        .map(|g| g.frames)
        .sum();
    record.summary = Some(Summary {
        inputs: Some(inputs_total),
        inputs_failed: Some(errors),
        frames_screened: Some(frames),
        events: Some(events),
        wall_s: Some(wall),
        pipeline_fps: Some(frames_now as f64 / pipeline_s),
        inference_s: Some(stats.inference_time.as_secs_f64()),
        inference_workers: Some(workers),
        inference_calls: Some(stats.inference_calls),
        inference_batch_mean: (stats.inference_calls > 0)
            .then(|| stats.inference_tensors as f64 / stats.inference_calls as f64),
        non_finite_outputs: (stats.non_finite > 0).then_some(stats.non_finite),
        frames_lost: (frames_lost > 0).then_some(frames_lost),
        tiles_detected: Some(stats.windows),
        tiles_per_s: Some(stats.windows as f64 / pipeline_s),
        ..Default::default()
    });
    record.status = RunStatus::Finished;
    record.finished_at = Some(crate::clock::now_rfc3339());
    let dir = seal(run, &record)?;
    if stats.non_finite > 0 {
        tracing::warn!(
            "{} frame(s) or tile(s) had NaN or infinite model outputs and gave no detections",
            stats.non_finite
        );
    }
    if options.progress {
        let damaged = if gap_count > 0 {
            format!(", {frames_lost} frame(s) lost in {gap_count} damaged stretch(es) (see run.json sources[].gaps)")
        } else {
            String::new()
        };
        let resumed = match record.resumes.last() {
            Some(r) => format!(
                " (resumed: {} input(s) finished before were skipped)",
                r.skipped
            ),
            None => String::new(),
        };
        eprintln!(
            "screened {inputs_total} input(s): {frames} frames, {events} event(s), {errors} error(s){damaged} in {wall:.1} s ({:.1} frames/s){resumed}",
            frames_now as f64 / wall.max(1e-9)
        );
    }
    Ok(Outcome {
        errors,
        events,
        dir,
    })
}

/// A progress bar style from `template`, which may use `{rate}`: items a
/// second with one decimal ("96.6/s"). indicatif's own `{per_sec:N}` reads
/// the width as a precision and printed ten decimals.
pub(crate) fn progress_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid template")
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&format_rate(state.per_sec()));
            },
        )
}

/// A rate with at most one decimal, or "-" before there is one.
fn format_rate(per_sec: f64) -> String {
    if per_sec.is_finite() {
        format!("{per_sec:.1}/s")
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod rate_tests {
    #[test]
    fn rates_have_one_decimal() {
        assert_eq!(super::format_rate(96.6490203779), "96.6/s");
        assert_eq!(super::format_rate(f64::INFINITY), "-");
    }
}
