//! Signatures: the rules that decide what a reviewer should see.
//!
//! A signature is stateful, runs once per stream, and is called in frame
//! order with that frame's detections. It answers with the flags the frame
//! raises. This first step has one rule, [`presence::Presence`]; relational
//! rules (containment, overcrowding, zones) plug in behind the same trait.

pub mod presence;

use serde::Serialize;

use crate::detect::Detection;
use crate::frame::FrameMeta;

/// One reason to show a frame to a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    /// The signature that raised it, e.g. `presence`.
    pub signature: String,
    /// Indices into the frame's detections that caused the flag.
    pub detections: Vec<usize>,
    /// One line for humans, e.g. `2 person >= 0.30`.
    pub reason: String,
}

/// A rule over the detections of one stream.
pub trait Signature: Send {
    fn id(&self) -> &str;
    fn observe(&mut self, frame: &FrameMeta, detections: &[Detection]) -> Vec<Flag>;
}
