//! The GeoJSON sink: for frames placed on the map (georeferenced rasters,
//! and drone frames with telemetry), streamed into the run folder as
//! RFC 7946 FeatureCollections in WGS84:
//!
//! - `detections.geojson`: every detection's footprint. Always for
//!   rasters; for video only with `--save-detections`, as a sortie has
//!   tens of thousands of frames.
//! - `events.geojson`: every closed event's footprint (a Point where only
//!   the frame centre is known), with its summary; for drone video also
//!   the event's track on the ground (a LineString, `feature:
//!   "event_track"`), the best frame's footprint when `[geo]
//!   frame_footprints` is set (`feature: "frame_footprint"`), and at the
//!   end of each input the platform's path (`feature: "platform_path"`).
//!
//! Every feature's properties say how it was placed (`placement`:
//! `georef`, `corners`, `pointing` or `frame_center`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Screened, SharedRun, Sink, SinkError};
use crate::detect::class_name;
use crate::event::Step;
use crate::evidence::events::{event_geo, summary};
use crate::evidence::EvidenceError;

pub struct GeoJsonSink {
    run: SharedRun,
    labels: Vec<String>,
    options: GeoJsonOptions,
    /// Per stream: its path, and the platform's positions `[lon, lat]`,
    /// one per [`PATH_SPACING_S`].
    paths: BTreeMap<usize, PlatformPath>,
}

/// What the sink writes beyond events.
#[derive(Debug, Clone, Copy, Default)]
pub struct GeoJsonOptions {
    /// Write every detection of video frames (rasters always get them).
    pub video_detections: bool,
    /// Add each event's best-frame footprint.
    pub frame_footprints: bool,
}

struct PlatformPath {
    path: std::path::PathBuf,
    points: Vec<[f64; 2]>,
    last_t: f64,
}

/// The platform's path keeps at most one point per this many seconds.
const PATH_SPACING_S: f64 = 1.0;

impl GeoJsonSink {
    /// `labels`: the model's class names, for the features' properties.
    pub fn new(run: SharedRun, labels: Vec<String>, options: GeoJsonOptions) -> GeoJsonSink {
        GeoJsonSink {
            run,
            labels,
            options,
            paths: BTreeMap::new(),
        }
    }
}

fn score(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

impl GeoJsonSink {
    fn frame(
        &mut self,
        stream: &super::StreamRef,
        frame: &crate::frame::Frame,
        detections: &[crate::detect::Detection],
    ) -> Result<(), SinkError> {
        let Some(placement) = frame.placement() else {
            return Ok(());
        };
        if let (Some(g), Some(t)) = (&frame.meta.ground, frame.meta.pts_s) {
            if let (Some(lat), Some(lon)) = (g.pose.lat, g.pose.lon) {
                let p = self.paths.entry(stream.id).or_insert_with(|| PlatformPath {
                    path: stream.path.clone(),
                    points: Vec::new(),
                    last_t: f64::NEG_INFINITY,
                });
                if t - p.last_t >= PATH_SPACING_S - 1e-6 {
                    p.points.push([round7(lon), round7(lat)]);
                    p.last_t = t;
                }
            }
        }
        let video = frame.scene.is_none();
        if video && !self.options.video_detections {
            return Ok(());
        }
        let boxes: Vec<_> = detections.iter().map(|d| d.bbox).collect();
        let prints = placement
            .footprints(&boxes)
            .map_err(|source| EvidenceError::Geo {
                what: format!("the detections of {}", stream.path.display()),
                source,
            })?;
        let mut run = self.run.lock();
        for (d, f) in detections.iter().zip(&prints) {
            let Some(f) = f else { continue };
            let b = d.bbox;
            let gsd = placement.gsd_at(
                f64::from((b.x1 + b.x2) / 2.0),
                f64::from((b.y1 + b.y2) / 2.0),
            );
            let mut props = json!({
                "source": stream.path,
                "class": class_name(&self.labels, d.class_id),
                "class_id": d.class_id,
                "score": score(d.score),
                "box": d.bbox.to_array(),
                "lon": round7(f.lon),
                "lat": round7(f.lat),
                "placement": placement.method(),
            });
            if video {
                props["frame_index"] = json!(frame.meta.frame_index);
                props["pts_s"] = json!(crate::evidence::record::round_s(frame.meta.pts_s));
                props["gsd_m"] = json!(gsd.map(|g| (g * 1e4).round() / 1e4));
            }
            run.push_feature("detections.geojson", f.geometry(), props)?;
        }
        Ok(())
    }

    fn events(
        &mut self,
        stream: &super::StreamRef,
        updates: &[crate::event::EventUpdate],
    ) -> Result<(), SinkError> {
        for u in updates.iter().filter(|u| u.step == Step::Close) {
            let Some((whole, _)) = event_geo(&u.event)? else {
                continue;
            };
            let placement = u.event.best.frame.placement().map(|p| p.method());
            let mut props =
                serde_json::to_value(summary(&u.event, &stream.path, &self.labels, None))
                    .expect("records always serialise");
            props["end_s"] = json!(crate::evidence::record::round_s(u.event.last_s));
            props["lon"] = json!(round7(whole.lon));
            props["lat"] = json!(round7(whole.lat));
            props["placement"] = json!(placement);
            props["event_json"] = Value::String(format!("events/{}/event.json", u.event.id));
            let mut run = self.run.lock();
            run.push_feature("events.geojson", whole.geometry(), props)?;
            let id = &u.event.id;
            let track: Vec<[f64; 2]> = u
                .event
                .ground_track
                .iter()
                .map(|p| [round7(p[1]), round7(p[2])])
                .collect();
            if track.len() >= 2 {
                run.push_feature(
                    "events.geojson",
                    json!({"type": "LineString", "coordinates": track}),
                    json!({"feature": "event_track", "event_id": id, "placement": placement}),
                )?;
            }
            if self.options.frame_footprints {
                if let Some(ring) = u
                    .event
                    .best
                    .frame
                    .meta
                    .ground
                    .as_ref()
                    .and_then(|g| g.model.frame_footprint())
                {
                    run.push_feature(
                        "events.geojson",
                        json!({"type": "Polygon", "coordinates": [ring]}),
                        json!({
                            "feature": "frame_footprint",
                            "event_id": id,
                            "frame_index": u.event.best.frame.meta.frame_index,
                            "placement": placement,
                        }),
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl Sink<Screened<'_>> for GeoJsonSink {
    fn accept(&mut self, item: &Screened<'_>) -> Result<(), SinkError> {
        match item {
            Screened::Frame {
                stream,
                frame,
                detections,
                ..
            } => self.frame(stream, frame, detections),
            Screened::Events {
                stream, updates, ..
            } => self.events(stream, updates),
        }
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        let mut run = self.run.lock();
        for (id, p) in std::mem::take(&mut self.paths) {
            if p.points.len() < 2 {
                continue;
            }
            run.push_feature(
                "events.geojson",
                json!({"type": "LineString", "coordinates": p.points}),
                json!({"feature": "platform_path", "source": id, "path": p.path}),
            )?;
        }
        Ok(())
    }
}
