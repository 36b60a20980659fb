//! The batch driver (`lookout screen`): recorded video, images, rasters and
//! folders through the [`pipeline`](crate::pipeline), one [`Stream`] per
//! input, every result into the sinks.
//!
//! A bad input is reported with its path, counted, and skipped; the rest
//! of the batch goes on. If the run itself fails (the detector, a sink),
//! the events still open are closed so their evidence is kept, and the run
//! is sealed as `failed`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::session::{checkpoint, seal};
use super::{Outcome, RunError, RunFolder, Session};
use crate::event::{EventUpdate, Step};
use crate::evidence::record::{RunMode, RunStatus, SourceRecord, Summary};
use crate::pipeline::{self, Detected, Item, PipelineError, PipelineOptions};
use crate::sink::{emit, ScreenSink, Screened, SinkError, StreamRef};
use crate::source::{self, raster::RasterOptions, OpenOptions, Sampling};
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

/// Screens `options.inputs` and seals the run folder.
pub fn screen(mut session: Session, options: &BatchOptions) -> Result<Outcome, RunError> {
    let t0 = Instant::now();
    let (inputs, discover_errors) = source::discover(&options.inputs);
    for e in &discover_errors {
        tracing::error!("{e}");
    }
    if inputs.is_empty() {
        return Err(RunError::NoInputs(
            options
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let (run, mut record, mut sinks) = session.open_run(&options.folder, RunMode::Screen)?;
    record.sources = inputs
        .iter()
        .map(|i| SourceRecord {
            path: i.path.clone(),
            kind: serde_json::to_value(i.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
            ..Default::default()
        })
        .collect();
    record.errors = discover_errors.iter().map(|e| e.to_string()).collect();
    checkpoint(&run, &record)?;
    let streams_ref: Vec<StreamRef> = inputs
        .iter()
        .enumerate()
        .map(|(id, i)| StreamRef {
            id,
            name: i
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: i.path.clone(),
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
    let config = &session.config;
    let pipeline_options = PipelineOptions {
        open: OpenOptions {
            sampling: Sampling {
                stride: config.sampling.stride,
                max_fps: config.sampling.fps,
            },
            decode_threads: config.sampling.decode_threads,
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
    };
    let stride = config.sampling.stride;
    let detector = session.take_detector();
    let sources = &mut record.sources;

    let result = pipeline::run(&inputs, detector, &pipeline_options, |item| {
        match item {
            Item::Started {
                source_id,
                path: _,
                info,
                sha256,
            } => {
                let rec = &mut sources[source_id];
                rec.sha256 = sha256;
                let expected = info.frames_hint.map(|n| n.div_ceil(stride)).unwrap_or(0);
                rec.info = serde_json::to_value(&info).ok();
                let bar = multi.add(ProgressBar::new(expected).with_style(style.clone()));
                bar.set_prefix(streams_ref[source_id].name.clone());
                bars.insert(source_id, bar);
                streams.insert(source_id, session.stream(source_id, &session.signatures));
            }
            Item::Frame(Detected { frame, detections }) => {
                let id = frame.meta.source_id;
                let rec = &mut sources[id];
                rec.frames_screened += 1;
                if let Some(bar) = bars.get(&id) {
                    bar.inc(1);
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
            }
            Item::Finished {
                source_id,
                path,
                error,
                gaps,
            } => {
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
                    sources[source_id].gaps = gaps;
                }
                if let Some(bar) = bars.remove(&source_id) {
                    bar.finish();
                }
                if let Some(mut stream) = streams.remove(&source_id) {
                    let reason = if error.is_some() {
                        "input failed"
                    } else {
                        "end of input"
                    };
                    emit_events(&mut sinks, &streams_ref[source_id], &stream.finish(reason))?;
                }
                if let Some(e) = error {
                    tracing::error!("{e}");
                    sources[source_id].error = Some(e.to_string());
                } else {
                    tracing::debug!(path = %path.display(), frames = sources[source_id].frames_screened, "input done");
                }
            }
        }
        Ok::<(), SinkError>(())
    });

    let stats = match result {
        Ok((_, stats)) => stats,
        Err(e) => {
            // Close the events still open, so their evidence is kept, then
            // seal what was written; the run is marked failed.
            let mut open: Vec<usize> = streams.keys().copied().collect();
            open.sort_unstable();
            for id in open {
                if let Some(mut stream) = streams.remove(&id) {
                    if let Err(w) =
                        emit_events(&mut sinks, &streams_ref[id], &stream.finish("run failed"))
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
                PipelineError::Consumer(e) => e.into(),
            };
            record.status = RunStatus::Failed;
            record.finished_at = Some(crate::clock::now_rfc3339());
            record.summary = Some(Summary {
                error: Some(format!("{e:#}")),
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

    let errors =
        discover_errors.len() + record.sources.iter().filter(|s| s.error.is_some()).count();
    let frames: u64 = record.sources.iter().map(|s| s.frames_screened).sum();
    let events: u64 = record.sources.iter().map(|s| s.events).sum();
    let wall = t0.elapsed().as_secs_f64();
    let pipeline_s = stats.wall_time.as_secs_f64().max(1e-9);
    let gap_count: usize = record.sources.iter().map(|s| s.gaps.len()).sum();
    let frames_lost: u64 = record
        .sources
        .iter()
        .flat_map(|s| &s.gaps)
        .map(|g| g.frames)
        .sum();
    record.summary = Some(Summary {
        inputs: Some(inputs.len() + discover_errors.len()),
        inputs_failed: Some(errors),
        frames_screened: Some(frames),
        events: Some(events),
        wall_s: Some(wall),
        pipeline_fps: Some(frames as f64 / pipeline_s),
        inference_s: Some(stats.inference_time.as_secs_f64()),
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
        eprintln!(
            "screened {} input(s): {frames} frames, {events} event(s), {errors} error(s){damaged} in {wall:.1} s ({:.1} frames/s)",
            inputs.len() + discover_errors.len(),
            frames as f64 / wall.max(1e-9)
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
