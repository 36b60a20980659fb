//! One telemetry source's records in media time, and the pose at any
//! instant between them.
//!
//! Records come at their own rate (ST 0601 often at 1–30 Hz, DJI SRT once
//! per frame, flight logs at 1–10 Hz). A frame between two records gets a
//! linear interpolation of every field both have: positions, altitudes,
//! angles (the short way round for headings), corners. Interpolation stops
//! at gaps longer than [`Track::max_gap_s`]: a link that dropped for a
//! minute says nothing about where the aircraft was meanwhile. A frame
//! just outside the records (within [`Track::hold_s`]) takes the nearest.
//!
//! Some encoders send slow-changing tags (fields of view, frame-centre
//! elevation) less often than the rest; those are carried forward from
//! earlier records. Positions and angles never are.

use super::{Record, Utc};

/// The pose at one instant: a record whose fields are interpolated.
pub type Pose = Record;

#[derive(Debug, Clone)]
pub struct Track {
    /// Records with a media time, sorted by it.
    records: Vec<Record>,
    /// Longest gap between two records that is bridged by interpolation.
    pub max_gap_s: f64,
    /// How far before the first or after the last record its pose holds.
    pub hold_s: f64,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            records: Vec::new(),
            max_gap_s: 5.0,
            hold_s: 2.0,
        }
    }
}

impl Track {
    /// From records that have `t_s`; the others are dropped.
    pub fn new(records: impl IntoIterator<Item = Record>) -> Track {
        let mut track = Track::default();
        let mut records: Vec<Record> = records
            .into_iter()
            .filter(|r| r.t_s.is_some_and(f64::is_finite))
            .collect();
        records.sort_by(|a, b| a.t_s.unwrap_or(0.0).total_cmp(&b.t_s.unwrap_or(0.0)));
        for r in records {
            track.push(r);
        }
        track
    }

    /// From records aligned by UTC (flight logs): media time 0 is
    /// `start`, the UTC of the first frame.
    pub fn by_utc(records: impl IntoIterator<Item = Record>, start: Utc) -> Track {
        Track::new(records.into_iter().filter_map(|mut r| {
            let utc = r.utc?;
            r.t_s = Some((utc.unix_us - start.unix_us) as f64 / 1e6);
            Some(r)
        }))
    }

    /// Adds a record at or after the last one (a live feed's next packet);
    /// one out of order is placed where it belongs.
    pub fn push(&mut self, mut r: Record) {
        let Some(t) = r.t_s.filter(|t| t.is_finite()) else {
            return;
        };
        let at = self
            .records
            .partition_point(|q| q.t_s.unwrap_or(f64::NEG_INFINITY) <= t);
        if let Some(prev) = at.checked_sub(1).map(|i| &self.records[i]) {
            carry_forward(prev, &mut r);
        }
        self.records.insert(at, r);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// First and last media time.
    pub fn span(&self) -> Option<(f64, f64)> {
        Some((self.records.first()?.t_s?, self.records.last()?.t_s?))
    }

    /// The pose at media time `t`, or `None` when no record is near enough.
    pub fn at(&self, t: f64) -> Option<Pose> {
        let (first, last) = (self.records.first()?, self.records.last()?);
        let i = self
            .records
            .partition_point(|q| q.t_s.unwrap_or(f64::NEG_INFINITY) <= t);
        let pose = if i == 0 {
            (first.t_s? - t <= self.hold_s).then(|| first.clone())
        } else if i == self.records.len() {
            (t - last.t_s? <= self.hold_s).then(|| last.clone())
        } else {
            let (a, b) = (&self.records[i - 1], &self.records[i]);
            let (ta, tb) = (a.t_s?, b.t_s?);
            if tb - ta <= self.max_gap_s {
                Some(interpolate(a, b, (t - ta) / (tb - ta)))
            } else if t - ta <= self.hold_s {
                Some(a.clone())
            } else if tb - t <= self.hold_s {
                Some(b.clone())
            } else {
                None
            }
        };
        pose.map(|mut p| {
            p.t_s = Some(t);
            p
        })
    }
}

/// Fields that change slowly and that some encoders send only now and
/// then.
fn carry_forward(prev: &Record, r: &mut Record) {
    r.hfov_deg = r.hfov_deg.or(prev.hfov_deg);
    r.vfov_deg = r.vfov_deg.or(prev.vfov_deg);
    r.frame_center_elev_m = r.frame_center_elev_m.or(prev.frame_center_elev_m);
    r.ls_version = r.ls_version.or(prev.ls_version);
    if r.camera == super::Camera::default() {
        r.camera = prev.camera.clone();
    }
}

fn lerp(a: Option<f64>, b: Option<f64>, u: f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + (b - a) * u),
        (a, b) => {
            if u < 0.5 {
                a
            } else {
                b
            }
        }
    }
}

/// Interpolates an angle in degrees the short way round.
fn lerp_angle(a: Option<f64>, b: Option<f64>, u: f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = (b - a + 540.0).rem_euclid(360.0) - 180.0;
            Some((a + d * u).rem_euclid(360.0))
        }
        _ => lerp(a, b, u),
    }
}

/// Interpolates a longitude across the antimeridian when needed.
fn lerp_lon(a: Option<f64>, b: Option<f64>, u: f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = (b - a + 540.0).rem_euclid(360.0) - 180.0;
            let v = a + d * u;
            Some(if v > 180.0 {
                v - 360.0
            } else if v < -180.0 {
                v + 360.0
            } else {
                v
            })
        }
        _ => lerp(a, b, u),
    }
}

fn interpolate(a: &Record, b: &Record, u: f64) -> Record {
    let near = if u < 0.5 { a } else { b };
    let mut r = near.clone();
    r.lat = lerp(a.lat, b.lat, u);
    r.lon = lerp_lon(a.lon, b.lon, u);
    r.alt_m = lerp(a.alt_m, b.alt_m, u);
    r.rel_alt_m = lerp(a.rel_alt_m, b.rel_alt_m, u);
    r.heading_deg = lerp_angle(a.heading_deg, b.heading_deg, u);
    r.pitch_deg = lerp(a.pitch_deg, b.pitch_deg, u);
    r.roll_deg = lerp(a.roll_deg, b.roll_deg, u);
    r.gimbal_pitch_deg = lerp(a.gimbal_pitch_deg, b.gimbal_pitch_deg, u);
    r.gimbal_yaw_deg = lerp_angle(a.gimbal_yaw_deg, b.gimbal_yaw_deg, u);
    r.gimbal_roll_deg = lerp(a.gimbal_roll_deg, b.gimbal_roll_deg, u);
    r.sensor_rel_azimuth_deg = lerp_angle(a.sensor_rel_azimuth_deg, b.sensor_rel_azimuth_deg, u);
    r.sensor_rel_elevation_deg = lerp(a.sensor_rel_elevation_deg, b.sensor_rel_elevation_deg, u);
    r.sensor_rel_roll_deg = lerp(a.sensor_rel_roll_deg, b.sensor_rel_roll_deg, u);
    r.hfov_deg = lerp(a.hfov_deg, b.hfov_deg, u);
    r.vfov_deg = lerp(a.vfov_deg, b.vfov_deg, u);
    r.slant_range_m = lerp(a.slant_range_m, b.slant_range_m, u);
    r.frame_center_lat = lerp(a.frame_center_lat, b.frame_center_lat, u);
    r.frame_center_lon = lerp_lon(a.frame_center_lon, b.frame_center_lon, u);
    r.frame_center_elev_m = lerp(a.frame_center_elev_m, b.frame_center_elev_m, u);
    r.corners = match (a.corners, b.corners) {
        (Some(ca), Some(cb)) => {
            let mut c = ca;
            for i in 0..4 {
                c[i][0] = lerp_lon(Some(ca[i][0]), Some(cb[i][0]), u).unwrap_or(ca[i][0]);
                c[i][1] = ca[i][1] + (cb[i][1] - ca[i][1]) * u;
            }
            Some(c)
        }
        _ => near.corners,
    };
    r.utc = match (a.utc, b.utc) {
        (Some(ua), Some(ub)) => Some(Utc::from_unix_us(
            ua.unix_us + ((ub.unix_us - ua.unix_us) as f64 * u).round() as i64,
            ua.digits.max(ub.digits),
        )),
        _ => near.utc,
    };
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Format;

    fn at(t: f64, lat: f64, heading: f64) -> Record {
        Record {
            t_s: Some(t),
            lat: Some(lat),
            lon: Some(179.9),
            heading_deg: Some(heading),
            ..Record::new(Format::St0601)
        }
    }

    #[test]
    fn poses_between_records_are_interpolated_the_short_way_round() {
        let mut b = at(1.0, 11.0, 10.0);
        b.lon = Some(-179.9);
        b.hfov_deg = None;
        let mut a = at(0.0, 10.0, 350.0);
        a.hfov_deg = Some(30.0);
        let track = Track::new([b, a]);
        let p = track.at(0.5).unwrap();
        assert!((p.lat.unwrap() - 10.5).abs() < 1e-12);
        assert!(
            p.heading_deg.unwrap().abs() < 1e-9 || (p.heading_deg.unwrap() - 360.0).abs() < 1e-9
        );
        assert!((p.lon.unwrap().abs() - 180.0).abs() < 1e-9, "{:?}", p.lon);
        // The field of view was carried forward to the second record.
        assert_eq!(track.records()[1].hfov_deg, Some(30.0));
        assert_eq!(p.t_s, Some(0.5));
    }

    #[test]
    fn long_gaps_are_not_bridged_and_the_ends_hold_briefly() {
        let track = Track::new([at(0.0, 10.0, 0.0), at(60.0, 20.0, 0.0)]);
        assert_eq!(track.at(1.0).unwrap().lat, Some(10.0));
        assert!(track.at(30.0).is_none());
        assert_eq!(track.at(59.0).unwrap().lat, Some(20.0));
        assert!(track.at(-3.0).is_none());
        assert!(track.at(63.0).is_none());
        assert_eq!(track.at(61.5).unwrap().lat, Some(20.0));
    }

    #[test]
    fn logs_align_by_utc() {
        let start = Utc::parse("2024-05-01T10:00:00Z").unwrap();
        let mut r = Record::new(Format::Gpx);
        r.utc = Utc::parse("2024-05-01T10:00:03.5Z");
        r.lat = Some(1.0);
        let track = Track::by_utc([r, Record::new(Format::Gpx)], start);
        assert_eq!(track.len(), 1);
        assert_eq!(track.span(), Some((3.5, 3.5)));
    }
}
