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

use serde_json::Value;

use super::annotate::annotate;
use super::record::{
    round_s, AnchorRecord, Artefacts, BestFrameRecord, BestTrack, CropRecord, EventLine,
    EventModel, EventRecord, EventSource, EventSummary, GeoRecord, SignatureRecord, StepAt,
    Thresholds, TrackRecord, EVENT_SCHEMA,
};
use super::{encode_jpeg, EvidenceError, RunWriter};
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
/// An event's footprint as a whole, and each of its tracks' (see
/// [`event_geo`]).
pub type EventFootprints = (Footprint, Vec<Option<Footprint>>);

/// Where an event lies: the footprint of all its best frame's boxes, then
/// one footprint per track, in the best frame's order (`None` for a track
/// a camera sees above the horizon). `None` unless the frame is placed on
/// the map (a georeferenced raster, or a drone frame with telemetry).
pub fn event_geo(event: &Event) -> Result<Option<EventFootprints>, EvidenceError> {
    let Some(placement) = event.best.frame.placement() else {
        return Ok(None);
    };
    let boxes: Vec<BBox> = event.best.tracks.iter().map(|t| t.bbox).collect();
    let Some(union) = BBox::union_all(boxes.iter().copied()) else {
        return Ok(None);
    };
    let all: Vec<BBox> = std::iter::once(union).chain(boxes).collect();
    let mut prints = placement
        .footprints(&all)
        .map_err(|source| EvidenceError::Geo {
            what: format!("event {}", event.id),
            source,
        })?;
    let Some(whole) = prints.remove(0) else {
        return Ok(None);
    };
    Ok(Some((whole, prints)))
}

/// What every event record repeats about the run.
pub struct EventContext {
    pub labels: Vec<String>,
    pub model_path: PathBuf,
    pub model_sha256: String,
    /// Detector and tracker thresholds.
    pub thresholds: Thresholds,
    pub jpeg_quality: u8,
    /// Signature configs and hashes, by signature name.
    pub signatures: HashMap<String, (Value, String)>,
}

impl EventContext {
    pub fn signature_table(signatures: &[SignatureRecord]) -> HashMap<String, (Value, String)> {
        signatures
            .iter()
            .map(|s| (s.name.clone(), (s.config.clone(), s.config_sha256.clone())))
            .collect()
    }
}

/// A footprint as records store it: the centre to about 1 cm (RFC 7946
/// recommends no more precision than the data has).
fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

pub fn footprint(f: &Footprint) -> GeoRecord {
    GeoRecord {
        lon: round7(f.lon),
        lat: round7(f.lat),
        footprint: f.polygon.clone(),
        method: f.method.map(|m| m.name().to_owned()),
    }
}

/// The fields common to the `events.jsonl` line and `event.json`.
pub fn summary(
    event: &Event,
    source_path: &std::path::Path,
    labels: &[String],
    geo: Option<&Footprint>,
) -> EventSummary {
    EventSummary {
        schema: EVENT_SCHEMA,
        event_id: event.id.clone(),
        signature: event.signature.clone(),
        kind: event.kind.to_owned(),
        group: event.group.clone(),
        source: EventSource {
            id: event.source_id,
            path: source_path.to_owned(),
        },
        anchor: event.anchor.map(|id| AnchorRecord {
            track: id,
            class: event
                .tracks
                .get(&id)
                .map(|t| class_name(labels, t.class_id).to_owned()),
        }),
        start_s: round_s(event.start_s),
        start_frame: event.start_frame,
        last_s: round_s(event.last_s),
        last_frame: event.last_frame,
        count: event.count as u64,
        peak_count: event.peak_count as u64,
        density_per_m2: event.density,
        peak_density_per_m2: event.peak_density,
        reason: event.reason.clone(),
        geo: geo.map(footprint),
    }
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
        let geo = event_geo(event)?;
        let mut line = EventLine {
            event: summary(event, source_path, &self.labels, geo.as_ref().map(|g| &g.0)),
            step: update.step,
            at: StepAt {
                frame_index: update.at.frame_index,
                pts_s: round_s(update.at.pts_s),
            },
            end_s: None,
            close_reason: None,
            artefacts: None,
        };
        if let Some(rendered) = rendered {
            line.end_s = round_s(event.last_s);
            line.close_reason = event.close_reason.clone();
            line.artefacts =
                Some(self.write_artefacts(writer, event, source_path, geo.as_ref(), rendered)?);
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
                let union = BBox::union_all(drawn.iter().map(|d| d.bbox)).unwrap_or(BBox::new(
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
        geo: Option<&EventFootprints>,
        rendered: Rendered,
    ) -> Result<Artefacts, EvidenceError> {
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
        let density_note = (event.kind == "overcrowding" && best.density.is_none())
            .then(|| "density unknown: no ground sample distance; only the count applies".into());
        let artefacts = Artefacts {
            frame: frame_rel,
            annotated: annotated_rel,
            event: json_rel.clone(),
        };
        let record = EventRecord {
            event: summary(event, source_path, &self.labels, geo.map(|g| &g.0)),
            end_s: round_s(event.last_s),
            close_reason: event.close_reason.clone(),
            best_frame: BestFrameRecord {
                rule:
                    "most subjects, then highest mean score of the tracks involved, then earliest"
                        .into(),
                frame_index: meta.frame_index,
                pts_s: round_s(meta.pts_s),
                width: meta.width,
                height: meta.height,
                count: best.count as u64,
                mean_score: best.mean_score,
                density_per_m2: best.density,
                area_m2: best.area_m2,
                length_m: best.length_m,
                gsd_m_per_px: meta.gsd_m_per_px,
                density_note,
                reason: best.reason.clone(),
                crop: crop.map(|w| CropRecord {
                    x: w.x,
                    y: w.y,
                    width: w.width,
                    height: w.height,
                    scale: w.scale,
                }),
                tracks: best
                    .tracks
                    .iter()
                    .enumerate()
                    .map(|(i, t)| BestTrack {
                        track: t.id,
                        class: class_name(&self.labels, t.class_id).to_owned(),
                        class_id: t.class_id,
                        role: if Some(t.id) == event.anchor {
                            "anchor"
                        } else {
                            "subject"
                        }
                        .into(),
                        score: t.score,
                        bbox: t.bbox.to_array(),
                        geo: geo
                            .and_then(|(_, each)| each.get(i))
                            .and_then(|f| f.as_ref())
                            .map(footprint),
                    })
                    .collect(),
            },
            georef: geo.and_then(|_| {
                best.frame
                    .scene
                    .as_ref()
                    .and_then(|s| s.georef.as_ref())
                    .map(|g| g.describe())
            }),
            ground: meta.ground.as_ref().map(|g| g.describe()),
            ground_track: event
                .ground_track
                .iter()
                .map(|p| {
                    [
                        round_s(Some(p[0])).unwrap_or(p[0]),
                        round7(p[1]),
                        round7(p[2]),
                    ]
                })
                .collect(),
            tracks: event
                .tracks
                .values()
                .map(|t| TrackRecord {
                    track: t.id,
                    class: class_name(&self.labels, t.class_id).to_owned(),
                    role: t.role.into(),
                    first_s: round_s(t.first_s),
                    last_s: round_s(t.last_s),
                    frames: t.frames,
                })
                .collect(),
            signature_config: config,
            signature_config_sha256: config_hash,
            model: EventModel {
                path: self.model_path.clone(),
                sha256: self.model_sha256.clone(),
            },
            thresholds: self.thresholds.clone(),
            artefacts: artefacts.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&record).expect("records always serialise");
        writer.put(&json_rel, &bytes)?;
        Ok(artefacts)
    }
}
