//! Events: per-frame signature hits become one event per firing, with a
//! lifecycle and a best frame.
//!
//! For every signature and group (a container track, a vessel track, a zone,
//! a class) the builder keeps a small state machine:
//!
//! - **pending**: the condition holds, but not yet for `min_duration`
//!   seconds. Lapses no longer than `grace` do not reset the clock, so a
//!   detector that flickers still opens the event.
//! - **open**: emitted once the condition has held for `min_duration`
//!   (at once on streams without timestamps: still images, rasters). The
//!   event's start is the first frame of the run, not the frame that opened
//!   it.
//! - **update**: emitted when the count has changed and the new count has
//!   held for `grace` seconds; shorter changes are detector noise.
//! - **close**: emitted when the condition has lapsed for longer than
//!   `grace`, or when the input ends. The event ends at the last frame where
//!   the condition held.
//!
//! **Best frame.** Each event keeps one frame for the reviewer: the frame
//! with the most subjects; among equals, the highest mean score of the
//! tracks involved (anchor and subjects); among equals, the earliest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::frame::{Frame, FrameMeta};
use crate::signature::{Hit, Signature, Timing};
use crate::track::Track;

/// A lifecycle step, one line of `events.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Open,
    Update,
    Close,
}

/// A track's part in an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackSpan {
    pub id: u64,
    pub class_id: usize,
    /// `anchor` (the container or vessel) or `subject`.
    pub role: &'static str,
    pub first_s: Option<f64>,
    pub last_s: Option<f64>,
    /// Frames in which it took part.
    pub frames: u64,
}

/// The frame kept for the reviewer.
#[derive(Debug, Clone)]
pub struct BestFrame {
    pub frame: Frame,
    /// The tracks involved, with their boxes in this frame.
    pub tracks: Vec<Track>,
    pub count: usize,
    pub mean_score: f32,
    pub density: Option<f64>,
    pub area_m2: Option<f64>,
    pub length_m: Option<f64>,
    pub reason: String,
}

/// An event as it stands after a lifecycle step.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub signature: String,
    pub kind: &'static str,
    pub group: String,
    pub source_id: usize,
    pub anchor: Option<u64>,
    /// pts of the first frame of the run that opened the event.
    pub start_s: Option<f64>,
    pub start_frame: u64,
    /// pts of the latest frame where the condition held.
    pub last_s: Option<f64>,
    pub last_frame: u64,
    /// The reported count (changes only through updates).
    pub count: usize,
    pub peak_count: usize,
    pub density: Option<f64>,
    pub peak_density: Option<f64>,
    /// The latest hit's reason.
    pub reason: String,
    pub tracks: BTreeMap<u64, TrackSpan>,
    pub best: BestFrame,
    /// Why it closed: `condition ended`, `end of input`.
    pub close_reason: Option<String>,
    /// Where the event was on the ground while its condition held, as
    /// `[t_s, lon, lat]` of its anchor (else of all its tracks' boxes),
    /// at most two points a second; empty unless frames are placed.
    pub ground_track: Vec<[f64; 3]>,
    pending_count: Option<(usize, f64)>,
}

/// One lifecycle step of one event.
#[derive(Debug, Clone)]
pub struct EventUpdate {
    pub step: Step,
    /// The frame that caused the step (for a close at the end of the input,
    /// the last frame of the stream).
    pub at: FrameMeta,
    pub event: Event,
}

struct GroupState {
    /// Start of the current run of the condition (pending or open).
    first_t: f64,
    first_frame: u64,
    first_pts: Option<f64>,
    last_t: f64,
    open: Option<Event>,
}

/// Turns one stream's per-frame hits into events. One per stream; call
/// [`EventBuilder::observe`] in frame order and [`EventBuilder::finish`] at
/// the end.
pub struct EventBuilder {
    source_id: usize,
    signatures: Vec<(Arc<dyn Signature>, Timing)>,
    groups: Vec<BTreeMap<String, GroupState>>,
    serial: u64,
    last: Option<FrameMeta>,
}

impl EventBuilder {
    pub fn new(source_id: usize, signatures: Vec<(Arc<dyn Signature>, Timing)>) -> EventBuilder {
        let groups = signatures.iter().map(|_| BTreeMap::new()).collect();
        EventBuilder {
            source_id,
            signatures,
            groups,
            serial: 0,
            last: None,
        }
    }

    /// Whether a condition holds or lapsed only within its grace: an event
    /// is open or pending.
    pub fn busy(&self) -> bool {
        self.groups.iter().any(|g| !g.is_empty())
    }

    /// Events currently open.
    pub fn open_events(&self) -> impl Iterator<Item = &Event> {
        self.groups
            .iter()
            .flat_map(|g| g.values())
            .filter_map(|s| s.open.as_ref())
    }

    /// Applies every signature to one frame's confirmed tracks.
    pub fn observe(&mut self, frame: &Frame, tracks: &[Track]) -> Vec<EventUpdate> {
        let meta = &frame.meta;
        let timed = meta.pts_s.is_some();
        // Streams without timestamps count frames as seconds; they open at
        // once (see the module docs), so only `grace` uses this clock.
        let t = meta.pts_s.unwrap_or(meta.frame_index as f64);
        self.last = Some(meta.clone());
        let mut out = Vec::new();
        for si in 0..self.signatures.len() {
            let (signature, timing) = self.signatures[si].clone();
            let hits = signature.observe(meta, tracks);
            let mut seen = BTreeSet::new();
            for hit in hits {
                seen.insert(hit.group.clone());
                let groups = &mut self.groups[si];
                let state = groups
                    .entry(hit.group.clone())
                    .or_insert_with(|| GroupState {
                        first_t: t,
                        first_frame: meta.frame_index,
                        first_pts: meta.pts_s,
                        last_t: t,
                        open: None,
                    });
                if state.open.is_none() && lapsed(t, state.last_t, timing.grace) {
                    *state = GroupState {
                        first_t: t,
                        first_frame: meta.frame_index,
                        first_pts: meta.pts_s,
                        last_t: t,
                        open: None,
                    };
                }
                state.last_t = t;
                let involved = involved(&hit, tracks);
                match &mut state.open {
                    None => {
                        if !timed || t - state.first_t >= timing.min_duration - 1e-6 {
                            self.serial += 1;
                            let id = format!(
                                "{}-s{:03}-{:04}",
                                signature.name(),
                                self.source_id,
                                self.serial
                            );
                            let mut event = Event {
                                id,
                                signature: signature.name().to_owned(),
                                kind: signature.kind(),
                                group: hit.group.clone(),
                                source_id: self.source_id,
                                anchor: hit.anchor,
                                start_s: state.first_pts,
                                start_frame: state.first_frame,
                                last_s: meta.pts_s,
                                last_frame: meta.frame_index,
                                count: hit.count(),
                                peak_count: hit.count(),
                                density: hit.density,
                                peak_density: hit.density,
                                reason: hit.reason.clone(),
                                tracks: BTreeMap::new(),
                                best: best_frame(frame, &hit, involved.clone()),
                                close_reason: None,
                                ground_track: Vec::new(),
                                pending_count: None,
                            };
                            note_tracks(&mut event, &hit, &involved, meta.pts_s);
                            note_ground(&mut event, frame, &involved);
                            out.push(EventUpdate {
                                step: Step::Open,
                                at: meta.clone(),
                                event: event.clone(),
                            });
                            state.open = Some(event);
                        }
                    }
                    Some(event) => {
                        event.last_s = meta.pts_s;
                        event.last_frame = meta.frame_index;
                        event.reason = hit.reason.clone();
                        event.peak_count = event.peak_count.max(hit.count());
                        if let Some(d) = hit.density {
                            event.peak_density = Some(event.peak_density.map_or(d, |p| p.max(d)));
                        }
                        note_tracks(event, &hit, &involved, meta.pts_s);
                        note_ground(event, frame, &involved);
                        let candidate = best_frame(frame, &hit, involved);
                        if (candidate.count, candidate.mean_score)
                            > (event.best.count, event.best.mean_score)
                        {
                            event.best = candidate;
                        }
                        if material_change(event, &hit, t, timed, timing.grace) {
                            event.count = hit.count();
                            event.density = hit.density;
                            out.push(EventUpdate {
                                step: Step::Update,
                                at: meta.clone(),
                                event: event.clone(),
                            });
                        }
                    }
                }
            }
            // Groups not seen in this frame: close (or forget) those whose
            // lapse exceeds the grace period.
            let groups = &mut self.groups[si];
            let expired: Vec<String> = groups
                .iter()
                .filter(|(g, s)| !seen.contains(*g) && lapsed(t, s.last_t, timing.grace))
                .map(|(g, _)| g.clone())
                .collect();
            for g in expired {
                let state = groups.remove(&g).expect("listed above");
                if let Some(mut event) = state.open {
                    event.close_reason = Some("condition ended".into());
                    out.push(EventUpdate {
                        step: Step::Close,
                        at: meta.clone(),
                        event,
                    });
                }
            }
        }
        out
    }

    /// Closes every open event, e.g. at the end of the input (`reason`:
    /// `end of input`). Pending groups are dropped.
    pub fn finish(&mut self, reason: &str) -> Vec<EventUpdate> {
        let Some(at) = self.last.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for groups in &mut self.groups {
            for (_, state) in std::mem::take(groups) {
                if let Some(mut event) = state.open {
                    event.close_reason = Some(reason.to_owned());
                    out.push(EventUpdate {
                        step: Step::Close,
                        at: at.clone(),
                        event,
                    });
                }
            }
        }
        // Deterministic order: by id (signature, then serial).
        out.sort_by(|a, b| a.event.id.cmp(&b.event.id));
        out
    }
}

/// True when a condition last true at `last` has lapsed for longer than
/// `grace` at `t`. Timestamps are decimal fractions that binary floating
/// point does not hold exactly (2.9 - 1.9 need not be 1.0), so equality is
/// judged to a microsecond.
fn lapsed(t: f64, last: f64, grace: f64) -> bool {
    t - last > grace + 1e-6
}

/// The anchor and the subjects of `hit`, as tracks of this frame.
fn involved(hit: &Hit, tracks: &[Track]) -> Vec<Track> {
    tracks
        .iter()
        .filter(|t| Some(t.id) == hit.anchor || hit.subjects.contains(&t.id))
        .cloned()
        .collect()
}

fn best_frame(frame: &Frame, hit: &Hit, tracks: Vec<Track>) -> BestFrame {
    let mean_score = if tracks.is_empty() {
        0.0
    } else {
        tracks.iter().map(|t| t.score).sum::<f32>() / tracks.len() as f32
    };
    BestFrame {
        frame: frame.clone(),
        tracks,
        count: hit.count(),
        mean_score,
        density: hit.density,
        area_m2: hit.area_m2,
        length_m: hit.length_m,
        reason: hit.reason.clone(),
    }
}

/// Adds the event's position in this frame to its ground track.
fn note_ground(event: &mut Event, frame: &Frame, involved: &[Track]) {
    const SPACING_S: f64 = 0.5;
    let (Some(t), Some(placement)) = (frame.meta.pts_s, frame.placement()) else {
        return;
    };
    if event
        .ground_track
        .last()
        .is_some_and(|p| t - p[0] < SPACING_S - 1e-6)
    {
        return;
    }
    let anchor = involved.iter().find(|tr| Some(tr.id) == event.anchor);
    let bbox = match anchor {
        Some(a) => a.bbox,
        None => match crate::geom::BBox::union_all(involved.iter().map(|tr| tr.bbox)) {
            Some(b) => b,
            None => return,
        },
    };
    if let Ok(prints) = placement.footprints(&[bbox]) {
        if let Some(Some(f)) = prints.first() {
            event.ground_track.push([t, f.lon, f.lat]);
        }
    }
}

fn note_tracks(event: &mut Event, hit: &Hit, involved: &[Track], pts: Option<f64>) {
    for t in involved {
        let role = if Some(t.id) == hit.anchor {
            "anchor"
        } else {
            "subject"
        };
        let span = event.tracks.entry(t.id).or_insert(TrackSpan {
            id: t.id,
            class_id: t.class_id,
            role,
            first_s: pts,
            last_s: pts,
            frames: 0,
        });
        span.last_s = pts;
        span.frames += 1;
    }
}

/// True when the count differs from the reported one and the new count has
/// held for `hold` seconds (at once on untimed streams).
fn material_change(event: &mut Event, hit: &Hit, t: f64, timed: bool, hold: f64) -> bool {
    let count = hit.count();
    if count == event.count {
        event.pending_count = None;
        return false;
    }
    match event.pending_count {
        Some((c, since)) if c == count => {
            if !timed || t - since >= hold - 1e-6 {
                event.pending_count = None;
                true
            } else {
                false
            }
        }
        _ => {
            event.pending_count = Some((count, t));
            !timed || hold <= 0.0
        }
    }
}
