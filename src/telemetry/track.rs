//! A source's records in media time.

/// Where the platform and camera were at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pose;

pub struct Track;
