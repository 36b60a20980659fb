//! The stateful part of screening one stream, in frame order: tracker, then
//! signatures, then events. `screen` keeps one per input, `watch` one per
//! feed. Still images and rasters are streams of one frame.

use std::sync::Arc;

use crate::detect::Detection;
use crate::event::{EventBuilder, EventUpdate};
use crate::frame::Frame;
use crate::signature::{Signature, Timing};
use crate::track::{Tracker, TrackerConfig};

/// What one frame did to a stream.
#[derive(Debug, Default)]
pub struct Observed {
    /// Event steps the frame caused.
    pub updates: Vec<EventUpdate>,
    /// For each detection of the frame, the confirmed track it belongs to.
    pub tracks: Vec<Option<u64>>,
}

pub struct Stream {
    tracker: Tracker,
    tracker_config: TrackerConfig,
    events: EventBuilder,
    /// Classes some signature counts, for [`Stream::busy`].
    subjects: Vec<usize>,
}

impl Stream {
    pub fn new(
        source_id: usize,
        tracker: &TrackerConfig,
        signatures: Vec<(Arc<dyn Signature>, Timing)>,
    ) -> Stream {
        let mut subjects: Vec<usize> = signatures
            .iter()
            .flat_map(|(s, _)| s.subjects().iter().copied())
            .collect();
        subjects.sort_unstable();
        subjects.dedup();
        Stream {
            tracker: Tracker::new(tracker.clone()),
            tracker_config: tracker.clone(),
            events: EventBuilder::new(source_id, signatures),
            subjects,
        }
    }

    /// Whether something is going on: a track (even a lost one the
    /// tracker still keeps) of a class some signature counts, or an event
    /// open or pending. Adaptive sampling infers every frame while it is.
    pub fn busy(&self) -> bool {
        self.events.busy()
            || self
                .tracker
                .tracks()
                .iter()
                .any(|t| self.subjects.binary_search(&t.class_id).is_ok())
    }

    /// Whether a keyframe probe showing `detections` is rejected unscreened
    /// (see [`crate::source::adaptive`]): the stream is busy, or a
    /// detection of a class some signature counts is one the tracker would
    /// look at. The bar is the tracker's lowest, not the one that starts a
    /// track: a person scored 0.4 on the keyframe may score 0.6 on the
    /// next frame, which a full-rate run would have seen.
    pub fn wakes(&self, detections: &[Detection]) -> bool {
        self.busy()
            || detections.iter().any(|d| {
                d.score >= self.tracker_config.low_score
                    && self.subjects.binary_search(&d.class_id).is_ok()
            })
    }

    /// Tracks one frame's detections and applies the signatures. Frames must
    /// come in presentation order.
    pub fn observe(&mut self, frame: &Frame, detections: &[Detection]) -> Observed {
        let meta = &frame.meta;
        self.tracker
            .update(meta.pts_s.unwrap_or(meta.frame_index as f64), detections);
        let visible: Vec<_> = self.tracker.visible().cloned().collect();
        let mut tracks = vec![None; detections.len()];
        for t in &visible {
            if let Some(slot) = t.detection.and_then(|i| tracks.get_mut(i)) {
                *slot = Some(t.id);
            }
        }
        Observed {
            updates: self.events.observe(frame, &visible),
            tracks,
        }
    }

    /// Closes the events still open; `reason` is recorded on each.
    pub fn finish(&mut self, reason: &str) -> Vec<EventUpdate> {
        self.events.finish(reason)
    }

    /// Closes the events still open and forgets every track, for a live
    /// feed that was lost: when it comes back, its scene is new. Event
    /// numbering goes on, so ids stay unique within the run.
    pub fn interrupt(&mut self, reason: &str) -> Vec<EventUpdate> {
        self.tracker = Tracker::new(self.tracker_config.clone());
        self.events.finish(reason)
    }
}
