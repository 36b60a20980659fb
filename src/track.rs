//! Multi-object tracking, ByteTrack-style, one tracker per stream.
//!
//! Each frame's detections are associated with existing tracks in two
//! stages: first the confident detections (score >= `high_score`) against
//! every live track, then the remaining low-score detections against the
//! tracks still unmatched, so an object whose score dips during a partial
//! occlusion keeps its id. Matching is greedy by IoU (best pair first)
//! against each track's predicted box; with `class_aware`, only boxes of the
//! same class match.
//!
//! Motion is a constant-velocity Kalman filter per box coordinate (centre x,
//! centre y, width, height), each a position/velocity pair. Time steps come
//! from frame timestamps, not frame counts, so sampled video (`--stride`,
//! `--fps`) and dropped frames predict correctly.
//!
//! Drone footage pans, so everything in the frame moves together, and at
//! low sampling rates a person moves further than its own width between
//! frames: IoU alone cannot match it. With `compensate_motion`, the tracker
//! first estimates the camera's translation between frames (the offset that
//! most track/detection pairs of one class agree on, by voting in a grid)
//! and shifts every track by it, as BoT-SORT's camera-motion compensation
//! does with a full homography.
//!
//! A track is born tentative from an unmatched confident detection and is
//! confirmed after `min_hits` matches (at once in a stream's first frame); it dies after `max_lost_s` seconds
//! without a match (a tentative track dies at its first miss).

use serde::{Deserialize, Serialize};

use crate::detect::Detection;
use crate::geom::BBox;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Detections at or above this score start tracks and match first.
    pub high_score: f32,
    /// Detections below this score are ignored altogether.
    pub low_score: f32,
    /// Minimum IoU between a predicted track box and a detection to match.
    pub match_iou: f32,
    /// Matches needed before a track is confirmed.
    pub min_hits: u32,
    /// Seconds a confirmed track survives without a match.
    pub max_lost_s: f64,
    /// Only associate detections with tracks of the same class.
    pub class_aware: bool,
    /// Estimate the camera's motion between frames (a drone panning) as
    /// one translation and shift every track by it before matching.
    pub compensate_motion: bool,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            high_score: 0.5,
            low_score: 0.1,
            match_iou: 0.3,
            min_hits: 2,
            max_lost_s: 1.0,
            class_aware: true,
            compensate_motion: true,
        }
    }
}

/// Lifecycle of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackState {
    Tentative,
    Confirmed,
    /// Confirmed, but not matched in the latest frame; its box is predicted.
    Lost,
}

/// One coordinate's position/velocity Kalman filter.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    x: f64,
    v: f64,
    // Covariance [[pxx, pxv], [pxv, pvv]].
    pxx: f64,
    pxv: f64,
    pvv: f64,
}

impl Axis {
    /// A new filter at `x`, velocity unknown: its spread allows ten object
    /// sizes per second, so the second sighting sets the velocity.
    fn new(x: f64, scale: f64) -> Axis {
        Axis {
            x,
            v: 0.0,
            pxx: (0.1 * scale).powi(2),
            pxv: 0.0,
            pvv: (10.0 * scale).powi(2),
        }
    }

    /// Predicts `dt` seconds ahead; `q` is the velocity noise density.
    fn predict(&mut self, dt: f64, q: f64) {
        self.x += self.v * dt;
        let (pxx, pxv, pvv) = (self.pxx, self.pxv, self.pvv);
        self.pxx = pxx + 2.0 * dt * pxv + dt * dt * pvv + q * dt.powi(3) / 3.0;
        self.pxv = pxv + dt * pvv + q * dt * dt / 2.0;
        self.pvv = pvv + q * dt;
    }

    /// Folds in a position measurement `z` with variance `r`.
    fn update(&mut self, z: f64, r: f64) {
        let s = self.pxx + r;
        let (kx, kv) = (self.pxx / s, self.pxv / s);
        let innovation = z - self.x;
        self.x += kx * innovation;
        self.v += kv * innovation;
        let (pxx, pxv, pvv) = (self.pxx, self.pxv, self.pvv);
        self.pxx = (1.0 - kx) * pxx;
        self.pxv = (1.0 - kx) * pxv;
        self.pvv = pvv - kv * pxv;
    }
}

/// A tracked object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    pub id: u64,
    pub class_id: usize,
    /// Box of the latest matched detection, or the prediction while lost.
    pub bbox: BBox,
    pub score: f32,
    pub state: TrackState,
    pub hits: u32,
    /// Timestamp of the latest match, seconds.
    pub last_seen_s: f64,
    /// Index into the current frame's detections, when matched this frame.
    pub detection: Option<usize>,
    #[serde(skip)]
    axes: [Axis; 4],
}

impl Track {
    fn predicted_box(&self) -> BBox {
        let [cx, cy, w, h] = self.axes.map(|a| a.x as f32);
        BBox::from_cxcywh(cx, cy, w.max(1.0), h.max(1.0))
    }
}

/// The tracker of one stream. Call [`Tracker::update`] once per frame, in
/// presentation order.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    last_t: Option<f64>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker {
            config,
            tracks: Vec::new(),
            next_id: 1,
            last_t: None,
        }
    }

    /// Every live track (tentative, confirmed and lost) after the last update.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Confirmed tracks matched in the latest frame.
    pub fn visible(&self) -> impl Iterator<Item = &Track> {
        self.tracks
            .iter()
            .filter(|t| t.state == TrackState::Confirmed)
    }

    /// Advances to time `t_s` and associates `detections`.
    pub fn update(&mut self, t_s: f64, detections: &[Detection]) {
        let first_frame = self.last_t.is_none();
        let dt = self.last_t.map_or(0.0, |last| (t_s - last).max(0.0));
        self.last_t = Some(t_s);
        for track in &mut self.tracks {
            // Velocity noise grows with the object's size, so small and large
            // objects get the same relative freedom to turn.
            let size = f64::from(track.bbox.width().max(track.bbox.height()).max(1.0));
            for axis in &mut track.axes {
                axis.predict(dt, (0.5 * size).powi(2));
            }
            track.detection = None;
        }

        let cfg = self.config.clone();
        let high: Vec<usize> = (0..detections.len())
            .filter(|&i| detections[i].score >= cfg.high_score)
            .collect();
        let low: Vec<usize> = (0..detections.len())
            .filter(|&i| {
                detections[i].score < cfg.high_score && detections[i].score >= cfg.low_score
            })
            .collect();

        if cfg.compensate_motion {
            if let Some((dx, dy)) = self.camera_shift(detections, &high) {
                for track in &mut self.tracks {
                    track.axes[0].x += f64::from(dx);
                    track.axes[1].x += f64::from(dy);
                }
            }
        }

        let all: Vec<usize> = (0..self.tracks.len()).collect();
        let (matched_high, unmatched_tracks, unmatched_high) =
            self.associate(&all, &high, detections);
        let established: Vec<usize> = unmatched_tracks
            .into_iter()
            .filter(|&t| self.tracks[t].state != TrackState::Tentative)
            .collect();
        let (matched_low, _, _) = self.associate(&established, &low, detections);

        for (t, d) in matched_high.into_iter().chain(matched_low) {
            let det = &detections[d];
            let track = &mut self.tracks[t];
            let b = det.bbox;
            let z = [
                (b.x1 + b.x2) / 2.0,
                (b.y1 + b.y2) / 2.0,
                b.width(),
                b.height(),
            ];
            let r = (0.05 * f64::from(b.width().max(b.height()).max(1.0))).powi(2);
            for (axis, z) in track.axes.iter_mut().zip(z) {
                axis.update(f64::from(z), r);
            }
            track.bbox = b;
            track.score = det.score;
            track.hits += 1;
            track.last_seen_s = t_s;
            track.detection = Some(d);
            if track.hits >= cfg.min_hits || track.state == TrackState::Lost {
                track.state = TrackState::Confirmed;
            }
        }
        // Unmatched tracks: tentative ones die, confirmed ones are lost
        // until `max_lost_s` has passed.
        self.tracks.retain_mut(|track| {
            if track.detection.is_some() {
                return true;
            }
            if track.state == TrackState::Tentative {
                return false;
            }
            track.state = TrackState::Lost;
            track.bbox = track.predicted_box();
            t_s - track.last_seen_s <= cfg.max_lost_s
        });
        for d in unmatched_high {
            let det = &detections[d];
            let b = det.bbox;
            let scale = f64::from(b.width().max(b.height()).max(1.0));
            let z = [
                (b.x1 + b.x2) / 2.0,
                (b.y1 + b.y2) / 2.0,
                b.width(),
                b.height(),
            ];
            // As in ByteTrack, the first frame of a stream confirms its
            // tracks at once: there is no earlier frame to corroborate them,
            // and a still image is a stream of one frame.
            let state = if cfg.min_hits <= 1 || first_frame {
                TrackState::Confirmed
            } else {
                TrackState::Tentative
            };
            self.tracks.push(Track {
                id: self.next_id,
                class_id: det.class_id,
                bbox: b,
                score: det.score,
                state,
                hits: 1,
                last_seen_s: t_s,
                detection: Some(d),
                axes: z.map(|v| Axis::new(f64::from(v), scale)),
            });
            self.next_id += 1;
        }
    }

    /// The translation that most (predicted track, detection) pairs of the
    /// same class agree on, when enough agree; see the module docs.
    fn camera_shift(&self, detections: &[Detection], dets: &[usize]) -> Option<(f32, f32)> {
        let established: Vec<&Track> = self
            .tracks
            .iter()
            .filter(|t| t.state != TrackState::Tentative)
            .collect();
        if established.len() < 3 || dets.len() < 3 {
            return None;
        }
        let mut sizes: Vec<f32> = established
            .iter()
            .map(|t| t.bbox.width().min(t.bbox.height()))
            .collect();
        sizes.sort_by(f32::total_cmp);
        let bin = (0.25 * sizes[sizes.len() / 2]).max(2.0);
        // Candidate offsets: every same-class pair within six box sizes.
        let mut offsets: Vec<(f32, f32)> = Vec::new();
        for t in &established {
            let p = t.predicted_box();
            let (pcx, pcy) = ((p.x1 + p.x2) / 2.0, (p.y1 + p.y2) / 2.0);
            for &d in dets {
                let det = &detections[d];
                if det.class_id != t.class_id {
                    continue;
                }
                let b = det.bbox;
                let (dx, dy) = ((b.x1 + b.x2) / 2.0 - pcx, (b.y1 + b.y2) / 2.0 - pcy);
                if dx.abs() <= 6.0 * p.width() && dy.abs() <= 6.0 * p.height() {
                    offsets.push((dx, dy));
                }
            }
        }
        let key = |(dx, dy): (f32, f32)| ((dx / bin).round() as i64, (dy / bin).round() as i64);
        let mut votes: std::collections::HashMap<(i64, i64), usize> = Default::default();
        for &o in &offsets {
            let (kx, ky) = key(o);
            // Each offset votes for its cell and the eight around it, so an
            // offset on a cell border is not split.
            for ex in -1..=1 {
                for ey in -1..=1 {
                    *votes.entry((kx + ex, ky + ey)).or_default() += 1;
                }
            }
        }
        let (&(bx, by), &n) = votes
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
        let zero = votes.get(&(0, 0)).copied().unwrap_or(0);
        if n < 3 || 10 * n < 3 * established.len() || n <= zero {
            return None;
        }
        let near: Vec<(f32, f32)> = offsets
            .into_iter()
            .filter(|&o| {
                let (kx, ky) = key(o);
                (kx - bx).abs() <= 1 && (ky - by).abs() <= 1
            })
            .collect();
        let median = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        Some((
            median(near.iter().map(|o| o.0).collect()),
            median(near.iter().map(|o| o.1).collect()),
        ))
    }

    /// Greedy IoU association of `tracks` (indices) with `dets` (indices).
    /// Returns the matched pairs, the unmatched tracks and the unmatched
    /// detections.
    fn associate(
        &self,
        tracks: &[usize],
        dets: &[usize],
        detections: &[Detection],
    ) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for &t in tracks {
            let track = &self.tracks[t];
            let predicted = track.predicted_box();
            for &d in dets {
                let det = &detections[d];
                if self.config.class_aware && det.class_id != track.class_id {
                    continue;
                }
                let iou = predicted.iou(&det.bbox);
                if iou >= self.config.match_iou {
                    pairs.push((iou, t, d));
                }
            }
        }
        // Best overlap first; ties by track then detection index, so the
        // result does not depend on sort stability.
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let (mut used_t, mut used_d) = (
            vec![false; self.tracks.len()],
            vec![false; detections.len()],
        );
        let mut matched = Vec::new();
        for (_, t, d) in pairs {
            if !used_t[t] && !used_d[d] {
                used_t[t] = true;
                used_d[d] = true;
                matched.push((t, d));
            }
        }
        let unmatched_t = tracks.iter().copied().filter(|&t| !used_t[t]).collect();
        let unmatched_d = dets.iter().copied().filter(|&d| !used_d[d]).collect();
        (matched, unmatched_t, unmatched_d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class_id: usize, score: f32, x: f32, y: f32) -> Detection {
        Detection {
            class_id,
            score,
            bbox: BBox::new(x, y, x + 20.0, y + 20.0),
        }
    }

    #[test]
    fn ids_survive_a_short_occlusion_and_a_score_dip() {
        let mut tr = Tracker::new(TrackerConfig::default());
        // Object moving 10 px per 0.1 s.
        for i in 0..5 {
            tr.update(i as f64 * 0.1, &[det(0, 0.9, 10.0 * i as f32, 0.0)]);
        }
        let id = tr.visible().next().unwrap().id;
        // Two frames unseen, then a low-score sighting where motion predicts it.
        tr.update(0.5, &[]);
        tr.update(0.6, &[]);
        assert_eq!(tr.tracks()[0].state, TrackState::Lost);
        tr.update(0.7, &[det(0, 0.3, 70.0, 0.0)]);
        let t = tr
            .visible()
            .next()
            .expect("re-acquired by the low-score stage");
        assert_eq!(t.id, id);
    }

    #[test]
    fn sampling_gaps_use_timestamps() {
        // The same motion sampled every 0.5 s: 50 px per step, wider than the
        // box, so only time-aware prediction can keep the id.
        let mut tr = Tracker::new(TrackerConfig {
            max_lost_s: 2.0,
            ..Default::default()
        });
        tr.update(0.0, &[det(0, 0.9, 0.0, 0.0)]);
        tr.update(0.1, &[det(0, 0.9, 10.0, 0.0)]);
        tr.update(0.2, &[det(0, 0.9, 20.0, 0.0)]);
        let id = tr.visible().next().unwrap().id;
        for k in 1..5 {
            let t = 0.2 + 0.5 * k as f64;
            tr.update(t, &[det(0, 0.9, 20.0 + 50.0 * k as f32, 0.0)]);
            assert_eq!(
                tr.visible().map(|t| t.id).collect::<Vec<_>>(),
                vec![id],
                "step {k}"
            );
        }
    }

    #[test]
    fn births_need_min_hits_and_deaths_follow_max_lost() {
        let mut tr = Tracker::new(TrackerConfig {
            min_hits: 3,
            max_lost_s: 0.25,
            ..Default::default()
        });
        // The stream's first frame confirms at once (as a still image must).
        let mut first = tr.clone();
        first.update(-0.1, &[det(0, 0.9, 50.0, 50.0)]);
        assert_eq!(first.visible().count(), 1);
        tr.update(-0.1, &[]);
        tr.update(0.0, &[det(0, 0.9, 0.0, 0.0)]);
        tr.update(0.1, &[det(0, 0.9, 0.0, 0.0)]);
        assert_eq!(tr.visible().count(), 0, "still tentative");
        tr.update(0.2, &[det(0, 0.9, 0.0, 0.0)]);
        assert_eq!(tr.visible().count(), 1);
        tr.update(0.4, &[]);
        assert_eq!(tr.tracks().len(), 1, "lost, within max_lost_s");
        tr.update(0.5, &[]);
        assert!(tr.tracks().is_empty(), "dead after max_lost_s");
        // A one-frame blip never becomes a track.
        tr.update(0.6, &[det(0, 0.9, 100.0, 100.0)]);
        tr.update(0.7, &[]);
        assert!(tr.tracks().is_empty());
    }

    #[test]
    fn class_aware_matching_keeps_classes_apart() {
        let mut tr = Tracker::new(TrackerConfig {
            min_hits: 1,
            ..Default::default()
        });
        tr.update(0.0, &[det(0, 0.9, 0.0, 0.0)]);
        tr.update(0.1, &[det(1, 0.9, 0.0, 0.0)]);
        let ids: Vec<(u64, usize)> = tr.visible().map(|t| (t.id, t.class_id)).collect();
        assert_eq!(ids, vec![(2, 1)], "the class-1 box starts its own track");
        let mut any = Tracker::new(TrackerConfig {
            min_hits: 1,
            class_aware: false,
            ..Default::default()
        });
        any.update(0.0, &[det(0, 0.9, 0.0, 0.0)]);
        any.update(0.1, &[det(1, 0.9, 0.0, 0.0)]);
        assert_eq!(any.visible().map(|t| t.id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn crossing_paths_keep_their_ids() {
        // Two people walk towards each other along nearly the same line and
        // pass; velocity prediction keeps each id on its own walker.
        let mut tr = Tracker::new(TrackerConfig::default());
        let (mut right_id, mut left_id) = (0, 0);
        for k in 0..30 {
            let t = k as f64 * 0.1;
            let a = det(0, 0.9, 5.0 * k as f32, 0.0);
            let b = det(0, 0.8, 145.0 - 5.0 * k as f32, 4.0);
            tr.update(t, &[a, b]);
            let by_det = |d: usize| tr.visible().find(|t| t.detection == Some(d)).map(|t| t.id);
            if k == 2 {
                (right_id, left_id) = (by_det(0).unwrap(), by_det(1).unwrap());
            } else if k > 2 {
                assert_eq!(by_det(0), Some(right_id), "frame {k}: rightward walker");
                assert_eq!(by_det(1), Some(left_id), "frame {k}: leftward walker");
            }
        }
        assert_ne!(right_id, left_id);
    }

    #[test]
    fn camera_pan_is_compensated_at_low_sampling_rates() {
        // A drone pans 45 px per sampled frame (stride 5 at 10 fps) over
        // eight 12 px people standing still: nothing overlaps its previous
        // box. With compensation the ids hold; without, every frame starts
        // new tracks.
        let people: Vec<(f32, f32)> = (0..8)
            .map(|i| (200.0 + 37.0 * i as f32, 100.0 + 23.0 * (i % 3) as f32))
            .collect();
        let frame = |k: usize| -> Vec<Detection> {
            people
                .iter()
                .map(|&(x, y)| {
                    let x = x - 45.0 * k as f32;
                    Detection {
                        class_id: 0,
                        score: 0.9,
                        bbox: BBox::new(x, y, x + 12.0, y + 16.0),
                    }
                })
                .collect()
        };
        let ids_over = |compensate: bool| {
            let mut tr = Tracker::new(TrackerConfig {
                compensate_motion: compensate,
                ..Default::default()
            });
            let mut seen = std::collections::BTreeSet::new();
            for k in 0..6 {
                tr.update(k as f64 * 0.5, &frame(k));
                seen.extend(tr.visible().map(|t| t.id));
            }
            (seen.len(), tr.visible().count())
        };
        assert_eq!(
            ids_over(true),
            (8, 8),
            "eight people, eight ids, all visible"
        );
        let (ids, visible) = ids_over(false);
        assert!(
            ids == 8 && visible == 0,
            "without compensation: {ids} ids, {visible} visible"
        );
    }
}
