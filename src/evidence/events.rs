//! Writes event lifecycle steps into a run folder.
//!
//! Every step (`open`, `update`, `close`) is one line of `events.jsonl`.
//! When an event closes, its best frame is written as `frame.jpg` (untouched
//! pixels) and `annotated.jpg` (the tracks involved drawn on it), with
//! `event.json` holding everything a reviewer or a court needs: the tracks,
//! boxes, counts, density, times, the signature config and its hash, the
//! model's sha256 and the thresholds. Artefacts are written once, at close,
//! so that the manifest never records a file twice.
//!
//! **Rasters.** A scene is too large for one JPEG, so a raster event's
//! frames are a crop around the boxes involved, read back from the file at
//! full resolution (reduced only past 4096 pixels); `best_frame.crop` says
//! where it lies in the scene. When the raster is georeferenced, every
//! record carries `geo` (centre `lon`, `lat` and the footprint polygon of
//! the boxes involved), each track its own position, and the close step adds
//! the event to `events.geojson`.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::annotate::annotate;
use super::{encode_jpeg, EvidenceError, RunWriter, EVENT_SCHEMA};
use crate::config::BuiltSignature;
use crate::detect::{class_name, Detection};
use crate::event::{Event, EventUpdate, Step};
use crate::frame::Window;
use crate::geo::Footprint;
use crate::geom::BBox;

/// Smallest side of a raster event's crop, in scene pixels.
const CROP_MIN: f64 = 512.0;
/// Largest side of a raster event's crop image; larger crops are reduced.
const CROP_MAX: f64 = 4096.0;

/// The region of a `width` x `height` scene shown for boxes `union`: the
/// boxes with half their size around them (at least 64 pixels), at least
/// [`CROP_MIN`] a side, inside the scene; and the size of the image it is
/// read into.
pub fn crop_region(union: &BBox, width: u32, height: u32) -> (Window, (u32, u32)) {
    let (w, h) = (union.width() as f64, union.height() as f64);
    let pad = (w.max(h) * 0.5).max(64.0);
    let side = |extent: f64, full: u32| (extent + 2.0 * pad).max(CROP_MIN).min(full as f64);
    let (cw, ch) = (side(w, width), side(h, height));
    let start = |centre: f64, size: f64, full: u32| {
        (centre - size / 2.0).clamp(0.0, full as f64 - size).floor()
    };
    let cx = (union.x1 + union.x2) as f64 / 2.0;
    let cy = (union.y1 + union.y2) as f64 / 2.0;
    let (x, y) = (start(cx, cw, width), start(cy, ch, height));
    let (cw, ch) = (
        cw.ceil().min(width as f64 - x),
        ch.ceil().min(height as f64 - y),
    );
    let scale = (cw.max(ch) / CROP_MAX).max(1.0);
    let window = Window {
        x: x as u32,
        y: y as u32,
        width: cw as u32,
        height: ch as u32,
        scale,
    };
    let out = (
        (cw / scale).round().max(1.0) as u32,
        (ch / scale).round().max(1.0) as u32,
    );
    (window, out)
}

/// The smallest box holding all of `boxes`.
fn union_of(boxes: impl Iterator<Item = BBox>) -> Option<BBox> {
    boxes.reduce(|a, b| {
        BBox::new(
            a.x1.min(b.x1),
            a.y1.min(b.y1),
            a.x2.max(b.x2),
            a.y2.max(b.y2),
        )
    })
}

/// Where an event lies: the footprint of all its best frame's boxes, then
/// one footprint per track, in the best frame's order. `None` unless the
/// frame is a georeferenced raster.
fn event_geo(event: &Event) -> Result<Option<(Footprint, Vec<Footprint>)>, EvidenceError> {
    let Some(georef) = event
        .best
        .frame
        .scene
        .as_ref()
        .and_then(|s| s.georef.as_ref())
    else {
        return Ok(None);
    };
    let boxes: Vec<BBox> = event.best.tracks.iter().map(|t| t.bbox).collect();
    let Some(union) = union_of(boxes.iter().copied()) else {
        return Ok(None);
    };
    let all: Vec<BBox> = std::iter::once(union).chain(boxes).collect();
    let mut prints = georef
        .footprints(&all)
        .map_err(|source| EvidenceError::Geo {
            what: format!("event {}", event.id),
            source,
        })?;
    let whole = prints.remove(0);
    Ok(Some((whole, prints)))
}

/// What every event record repeats about the run.
pub struct EventContext {
    pub labels: Vec<String>,
    pub model_path: PathBuf,
    pub model_sha256: String,
    /// Detector and tracker thresholds.
    pub thresholds: Value,
    pub jpeg_quality: u8,
    /// Signature configs and hashes, by signature name.
    pub signatures: HashMap<String, (Value, String)>,
}

impl EventContext {
    pub fn signature_table(signatures: &[BuiltSignature]) -> HashMap<String, (Value, String)> {
        signatures
            .iter()
            .map(|s| {
                let (config, hash) = s.config.fingerprint();
                (s.signature.name().to_owned(), (config, hash))
            })
            .collect()
    }
}

fn pts(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |t| json!((t * 1e6).round() / 1e6))
}

/// The fields common to the `events.jsonl` line and `event.json`.
fn summary(event: &Event, source_path: &std::path::Path, labels: &[String]) -> Value {
    let mut subjects: Vec<u64> = event.best.tracks.iter().map(|t| t.id).collect();
    subjects.retain(|id| Some(*id) != event.anchor);
    json!({
        "schema": EVENT_SCHEMA,
        "event_id": event.id,
        "signature": event.signature,
        "kind": event.kind,
        "group": event.group,
        "source": {"id": event.source_id, "path": source_path},
        "anchor": event.anchor.map(|id| json!({
            "track": id,
            "class": event.tracks.get(&id).map(|t| class_name(labels, t.class_id)),
        })),
        "start_s": pts(event.start_s),
        "start_frame": event.start_frame,
        "last_s": pts(event.last_s),
        "last_frame": event.last_frame,
        "count": event.count,
        "peak_count": event.peak_count,
        "density_per_m2": event.density,
        "peak_density_per_m2": event.peak_density,
        "reason": event.reason,
    })
}

/// A closing event's evidence frames, encoded, before they are written.
struct Rendered {
    raw: Vec<u8>,
    annotated: Vec<u8>,
    /// For rasters: the region of the scene shown.
    crop: Option<Window>,
}

impl EventContext {
    /// Appends the step to `events.jsonl`; on close, writes the artefacts
    /// and `event.json` first, so the close line can name them.
    pub fn record(
        &self,
        writer: &mut RunWriter,
        update: &EventUpdate,
        source_path: &std::path::Path,
    ) -> Result<(), EvidenceError> {
        self.record_all(writer, std::slice::from_ref(update), source_path)
    }

    /// Records steps in order. The evidence frames of the closing events
    /// are read and encoded in parallel first: a raster scene closes all
    /// its events at once.
    pub fn record_all(
        &self,
        writer: &mut RunWriter,
        updates: &[EventUpdate],
        source_path: &std::path::Path,
    ) -> Result<(), EvidenceError> {
        use rayon::prelude::*;
        let dir = writer.dir().to_owned();
        let rendered: Vec<Option<Result<Rendered, EvidenceError>>> = updates
            .par_iter()
            .map(|u| (u.step == Step::Close).then(|| self.render(&u.event, &dir)))
            .collect();
        for (update, r) in updates.iter().zip(rendered) {
            self.record_one(writer, update, source_path, r.transpose()?)?;
        }
        Ok(())
    }

    fn record_one(
        &self,
        writer: &mut RunWriter,
        update: &EventUpdate,
        source_path: &std::path::Path,
        rendered: Option<Rendered>,
    ) -> Result<(), EvidenceError> {
        let event = &update.event;
        let mut line = summary(event, source_path, &self.labels);
        let geo = event_geo(event)?;
        if let Some((whole, _)) = &geo {
            line["geo"] = whole.to_json();
        }
        line["step"] = json!(update.step);
        line["at"] = json!({"frame_index": update.at.frame_index, "pts_s": pts(update.at.pts_s)});
        if let Some(rendered) = rendered {
            line["end_s"] = pts(event.last_s);
            line["close_reason"] = json!(event.close_reason);
            line["artefacts"] =
                self.write_artefacts(writer, event, source_path, geo.as_ref(), rendered)?;
            if let Some((whole, _)) = &geo {
                let mut props = summary(event, source_path, &self.labels);
                props["end_s"] = pts(event.last_s);
                props["lon"] = json!(whole.lon);
                props["lat"] = json!(whole.lat);
                props["event_json"] = line["artefacts"]["event"].clone();
                writer.push_feature("events.geojson", whole.geometry(), props)?;
            }
        }
        writer.append_event(&line)
    }

    /// Reads (for rasters) and encodes the best frame, untouched and
    /// annotated.
    fn render(&self, event: &Event, run_dir: &std::path::Path) -> Result<Rendered, EvidenceError> {
        let best = &event.best;
        let drawn: Vec<Detection> = best
            .tracks
            .iter()
            .map(|t| Detection {
                class_id: t.class_id,
                score: t.score,
                bbox: t.bbox,
            })
            .collect();
        // A raster scene's pixels stay in the file: read a crop around the
        // boxes, and move the boxes into it.
        let (image, drawn, crop) = match &best.frame.scene {
            Some(scene) => {
                let union = union_of(drawn.iter().map(|d| d.bbox)).unwrap_or(BBox::new(
                    0.0,
                    0.0,
                    scene.width as f32,
                    scene.height as f32,
                ));
                let (window, out) = crop_region(&union, scene.width, scene.height);
                let pixels = scene.read(window, out)?;
                let (dx, dy, s) = (window.x as f32, window.y as f32, window.scale as f32);
                let moved = drawn
                    .into_iter()
                    .map(|mut d| {
                        d.bbox = BBox::new(
                            (d.bbox.x1 - dx) / s,
                            (d.bbox.y1 - dy) / s,
                            (d.bbox.x2 - dx) / s,
                            (d.bbox.y2 - dy) / s,
                        );
                        d
                    })
                    .collect();
                (std::sync::Arc::new(pixels), moved, Some(window))
            }
            None => (best.frame.image.clone(), drawn, None),
        };
        let image = &image;
        let dir = run_dir.join("events").join(&event.id);
        let (raw, annotated) = rayon::join(
            || encode_jpeg(image, self.jpeg_quality, &dir.join("frame.jpg")),
            || {
                encode_jpeg(
                    &annotate(image, &drawn, &self.labels),
                    self.jpeg_quality,
                    &dir.join("annotated.jpg"),
                )
            },
        );
        Ok(Rendered {
            raw: raw?,
            annotated: annotated?,
            crop,
        })
    }

    fn write_artefacts(
        &self,
        writer: &mut RunWriter,
        event: &Event,
        source_path: &std::path::Path,
        geo: Option<&(Footprint, Vec<Footprint>)>,
        rendered: Rendered,
    ) -> Result<Value, EvidenceError> {
        let dir = format!("events/{}", event.id);
        let frame_rel = format!("{dir}/frame.jpg");
        let annotated_rel = format!("{dir}/annotated.jpg");
        let json_rel = format!("{dir}/event.json");
        let best = &event.best;
        let crop = rendered.crop;
        writer.put(&frame_rel, &rendered.raw)?;
        writer.put(&annotated_rel, &rendered.annotated)?;

        let (config, config_hash) = self
            .signatures
            .get(&event.signature)
            .cloned()
            .unwrap_or((Value::Null, String::new()));
        let meta = &best.frame.meta;
        let mut record = summary(event, source_path, &self.labels);
        let density_note = (event.kind == "overcrowding" && best.density.is_none())
            .then_some("density unknown: no ground sample distance; only the count applies");
        record["end_s"] = pts(event.last_s);
        record["close_reason"] = json!(event.close_reason);
        record["best_frame"] = json!({
            "rule": "most subjects, then highest mean score of the tracks involved, then earliest",
            "frame_index": meta.frame_index,
            "pts_s": pts(meta.pts_s),
            "width": meta.width,
            "height": meta.height,
            "count": best.count,
            "mean_score": best.mean_score,
            "density_per_m2": best.density,
            "area_m2": best.area_m2,
            "gsd_m_per_px": meta.gsd_m_per_px,
            "density_note": density_note,
            "reason": best.reason,
            "crop": crop,
            "tracks": best.tracks.iter().enumerate().map(|(i, t)| json!({
                "track": t.id,
                "class": class_name(&self.labels, t.class_id),
                "class_id": t.class_id,
                "role": if Some(t.id) == event.anchor { "anchor" } else { "subject" },
                "score": t.score,
                "box": t.bbox.to_array(),
                "geo": geo.and_then(|(_, each)| each.get(i)).map(Footprint::to_json),
            })).collect::<Vec<_>>(),
        });
        if let Some((whole, _)) = geo {
            record["geo"] = whole.to_json();
            record["georef"] = best
                .frame
                .scene
                .as_ref()
                .and_then(|s| s.georef.as_ref())
                .map_or(Value::Null, |g| g.describe());
        }
        record["tracks"] = json!(event
            .tracks
            .values()
            .map(|t| json!({
                "track": t.id,
                "class": class_name(&self.labels, t.class_id),
                "role": t.role,
                "first_s": pts(t.first_s),
                "last_s": pts(t.last_s),
                "frames": t.frames,
            }))
            .collect::<Vec<_>>());
        record["signature_config"] = config;
        record["signature_config_sha256"] = json!(config_hash);
        record["model"] = json!({"path": self.model_path, "sha256": self.model_sha256});
        record["thresholds"] = self.thresholds.clone();
        let artefacts = json!({"frame": frame_rel, "annotated": annotated_rel, "event": json_rel});
        record["artefacts"] = artefacts.clone();
        let bytes = serde_json::to_vec_pretty(&record).expect("JSON values always serialise");
        writer.put(&json_rel, &bytes)?;
        Ok(artefacts)
    }
}
