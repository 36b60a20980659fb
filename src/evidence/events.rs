//! Writes event lifecycle steps into a run folder.
//!
//! Every step (`open`, `update`, `close`) is one line of `events.jsonl`.
//! When an event closes, its best frame is written as `frame.jpg` (untouched
//! pixels) and `annotated.jpg` (the tracks involved drawn on it), with
//! `event.json` holding everything a reviewer or a court needs: the tracks,
//! boxes, counts, density, times, the signature config and its hash, the
//! model's sha256 and the thresholds. Artefacts are written once, at close,
//! so that the manifest never records a file twice.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::annotate::annotate;
use super::{encode_jpeg, EvidenceError, RunWriter, EVENT_SCHEMA};
use crate::config::BuiltSignature;
use crate::detect::{class_name, Detection};
use crate::event::{Event, EventUpdate, Step};

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

impl EventContext {
    /// Appends the step to `events.jsonl`; on close, writes the artefacts
    /// and `event.json` first, so the close line can name them.
    pub fn record(
        &self,
        writer: &mut RunWriter,
        update: &EventUpdate,
        source_path: &std::path::Path,
    ) -> Result<(), EvidenceError> {
        let event = &update.event;
        let mut line = summary(event, source_path, &self.labels);
        line["step"] = json!(update.step);
        line["at"] = json!({"frame_index": update.at.frame_index, "pts_s": pts(update.at.pts_s)});
        if update.step == Step::Close {
            line["end_s"] = pts(event.last_s);
            line["close_reason"] = json!(event.close_reason);
            line["artefacts"] = self.write_artefacts(writer, event, source_path)?;
        }
        writer.append_event(&line)
    }

    fn write_artefacts(
        &self,
        writer: &mut RunWriter,
        event: &Event,
        source_path: &std::path::Path,
    ) -> Result<Value, EvidenceError> {
        let dir = format!("events/{}", event.id);
        let frame_rel = format!("{dir}/frame.jpg");
        let annotated_rel = format!("{dir}/annotated.jpg");
        let json_rel = format!("{dir}/event.json");
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
        let image = &best.frame.image;
        let (raw, annotated) = rayon::join(
            || encode_jpeg(image, self.jpeg_quality, &writer.dir().join(&frame_rel)),
            || {
                encode_jpeg(
                    &annotate(image, &drawn, &self.labels),
                    self.jpeg_quality,
                    &writer.dir().join(&annotated_rel),
                )
            },
        );
        writer.put(&frame_rel, &raw?)?;
        writer.put(&annotated_rel, &annotated?)?;

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
            "tracks": best.tracks.iter().map(|t| json!({
                "track": t.id,
                "class": class_name(&self.labels, t.class_id),
                "class_id": t.class_id,
                "role": if Some(t.id) == event.anchor { "anchor" } else { "subject" },
                "score": t.score,
                "box": t.bbox.to_array(),
            })).collect::<Vec<_>>(),
        });
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
