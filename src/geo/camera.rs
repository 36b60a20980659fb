//! From a drone's telemetry to the ground: a camera model per frame that
//! maps every pixel to a longitude and latitude, and gives the ground
//! sample distance at any box.
//!
//! The ground is taken as a plane (flat terrain at one elevation), so the
//! map from image pixels to the ground is a plane homography, whichever
//! way it was found. [`GroundModel`] stores it as a 3×3 matrix from pixel
//! `(x, y, 1)` to local east/north metres (homogeneous) about an origin,
//! and a local tangent plane turns metres into degrees. Over the few
//! kilometres a frame covers, the tangent plane's error is well under a
//! centimetre horizontally.
//!
//! How the homography is found is kept beside it ([`Method`]), because a
//! position's trust depends on it:
//!
//! - **corners**: the source states the frame's four corners on the ground
//!   (MISB ST 0601 tags 26–33 or 82–89). The encoder solved the geometry,
//!   usually with a terrain model; this is the best there is.
//! - **pointing**: the sensor's position and height above the ground, its
//!   attitude (platform attitude plus sensor-relative angles for ST 0601;
//!   the gimbal's absolute angles for DJI) and its fields of view. A ray
//!   through each pixel is intersected with the ground plane.
//! - **frame_center**: only the frame centre's position is known. Every
//!   box is placed there, and no size on the ground is claimed.
//!
//! Pixel coordinates are continuous, origin at the top-left corner of the
//! top-left pixel, as detection boxes are.
//!
//! Angles follow the aerospace convention in a north-east-down frame:
//! heading (yaw) clockwise from true north, pitch positive nose up, roll
//! positive right side down, applied in that order. A camera with pitch
//! -90° looks straight down with the top of its image towards its heading.

use serde::Serialize;

use super::{Footprint, WGS84_A, WGS84_E2};
use crate::geom::BBox;
use crate::telemetry::Record;

/// How a frame's ground model was found, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The frame's four ground corners, as the source states them.
    Corners,
    /// Sensor position, attitude and fields of view over a ground plane.
    Pointing,
    /// The frame centre's position only: no footprint, no scale.
    FrameCenter,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Corners => "corners",
            Method::Pointing => "pointing",
            Method::FrameCenter => "frame_center",
        }
    }
}

/// A local tangent plane at a WGS84 point: east and north metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tangent {
    pub lat: f64,
    pub lon: f64,
    /// Metres per radian of latitude (meridian radius of curvature).
    m: f64,
    /// Metres per radian of longitude (prime vertical radius × cos φ).
    n_cos: f64,
}

impl Tangent {
    pub fn at(lat: f64, lon: f64) -> Tangent {
        let phi = lat.to_radians();
        let w = 1.0 - WGS84_E2 * phi.sin().powi(2);
        Tangent {
            lat,
            lon,
            m: WGS84_A * (1.0 - WGS84_E2) / w.powf(1.5),
            n_cos: WGS84_A / w.sqrt() * phi.cos(),
        }
    }

    /// `(east, north)` metres of a point from the origin.
    pub fn to_en(&self, lat: f64, lon: f64) -> (f64, f64) {
        let mut dlon = lon - self.lon;
        if dlon > 180.0 {
            dlon -= 360.0;
        } else if dlon < -180.0 {
            dlon += 360.0;
        }
        (
            dlon.to_radians() * self.n_cos,
            (lat - self.lat).to_radians() * self.m,
        )
    }

    /// `(lon, lat)` of a point `east`, `north` metres from the origin.
    pub fn to_lonlat(&self, east: f64, north: f64) -> (f64, f64) {
        let mut lon = self.lon + (east / self.n_cos).to_degrees();
        if lon > 180.0 {
            lon -= 360.0;
        } else if lon < -180.0 {
            lon += 360.0;
        }
        (lon, self.lat + (north / self.m).to_degrees())
    }
}

/// A camera over flat ground: where it is and which way it looks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pointing {
    pub lat: f64,
    pub lon: f64,
    /// Height of the camera above the ground plane, metres.
    pub height_m: f64,
    /// The camera's own attitude in the world (not the platform's):
    /// yaw clockwise from north, pitch (-90 = straight down), roll.
    pub yaw_deg: f64,
    pub pitch_deg: f64,
    pub roll_deg: f64,
    pub hfov_deg: f64,
    pub vfov_deg: f64,
}

type Mat3 = [[f64; 3]; 3];

fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut c = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            c[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

fn apply(h: &Mat3, x: f64, y: f64) -> [f64; 3] {
    [
        h[0][0] * x + h[0][1] * y + h[0][2],
        h[1][0] * x + h[1][1] * y + h[1][2],
        h[2][0] * x + h[2][1] * y + h[2][2],
    ]
}

/// Body-to-world rotation (north-east-down) for yaw, pitch and roll in
/// degrees, applied yaw first: `Rz(yaw) · Ry(pitch) · Rx(roll)`.
pub fn rotation(yaw_deg: f64, pitch_deg: f64, roll_deg: f64) -> Mat3 {
    let (sy, cy) = yaw_deg.to_radians().sin_cos();
    let (sp, cp) = pitch_deg.to_radians().sin_cos();
    let (sr, cr) = roll_deg.to_radians().sin_cos();
    let rz = [[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]];
    let ry = [[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]];
    let rx = [[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]];
    mul(&rz, &mul(&ry, &rx))
}

/// The camera's attitude in the world from the platform's attitude and
/// the sensor's angles relative to it (MISB ST 0601 tags 5–7 and 18–20),
/// as `(yaw, pitch, roll)` in degrees.
pub fn sensor_attitude(platform: (f64, f64, f64), relative: (f64, f64, f64)) -> (f64, f64, f64) {
    let r = mul(
        &rotation(platform.0, platform.1, platform.2),
        &rotation(relative.0, relative.1, relative.2),
    );
    // Back to ZYX Euler angles.
    let pitch = (-r[2][0]).clamp(-1.0, 1.0).asin();
    let (yaw, roll) = if pitch.cos().abs() > 1e-9 {
        (r[1][0].atan2(r[0][0]), r[2][1].atan2(r[2][2]))
    } else {
        // Straight up or down: yaw and roll turn about the same axis;
        // put it all in yaw.
        ((-r[0][1]).atan2(r[1][1]), 0.0)
    };
    (
        yaw.to_degrees().rem_euclid(360.0),
        pitch.to_degrees(),
        roll.to_degrees(),
    )
}

/// Solves the homography taking `src[i]` to `dst[i]` (four point pairs,
/// no three collinear), by direct linear transform with `h33 = 1`.
fn homography(src: [(f64, f64); 4], dst: [(f64, f64); 4]) -> Option<Mat3> {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ((x, y), (u, v)) = (src[i], dst[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    // Gaussian elimination with partial pivoting on the 8×8 system.
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (row, r) in a.iter_mut().enumerate() {
            if row != col {
                let f = r[col] / pivot_row[col];
                for (v, p) in r.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let h: Vec<f64> = (0..8).map(|i| a[i][8] / a[i][i]).collect();
    let m = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]];
    m.iter().flatten().all(|v| v.is_finite()).then_some(m)
}

/// Where a frame's pixels lie on the ground.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundModel {
    pub method: Method,
    pub width: u32,
    pub height: u32,
    tangent: Tangent,
    /// Pixel `(x, y, 1)` to homogeneous `(east, north, 1)` metres about
    /// `tangent`'s origin; `None` for [`Method::FrameCenter`].
    h: Option<Mat3>,
    /// The camera, when the model was built from pointing.
    pub pointing: Option<Pointing>,
}

impl GroundModel {
    /// From the frame's corners on the ground as `[lon, lat]`, in the order
    /// upper left, upper right, lower right, lower left.
    pub fn from_corners(corners: [[f64; 2]; 4], width: u32, height: u32) -> Option<GroundModel> {
        if width == 0 || height == 0 || !corners.iter().flatten().all(|v| v.is_finite()) {
            return None;
        }
        let lat = corners.iter().map(|c| c[1]).sum::<f64>() / 4.0;
        let lon = corners.iter().map(|c| c[0]).sum::<f64>() / 4.0;
        let tangent = Tangent::at(lat, lon);
        let (w, hh) = (f64::from(width), f64::from(height));
        let src = [(0.0, 0.0), (w, 0.0), (w, hh), (0.0, hh)];
        let dst = corners.map(|c| tangent.to_en(c[1], c[0]));
        let h = homography(src, dst)?;
        let model = GroundModel {
            method: Method::Corners,
            width,
            height,
            tangent,
            h: Some(h),
            pointing: None,
        };
        // Four corners that fold over each other are not a view of a plane.
        let centre = apply(&h, w / 2.0, hh / 2.0)[2];
        let consistent = src.iter().all(|&(x, y)| apply(&h, x, y)[2] * centre > 0.0);
        consistent.then_some(model)
    }

    /// From a camera over flat ground. `None` when the camera is below the
    /// ground, its fields of view are not usable, or it looks above the
    /// horizon at the frame centre.
    pub fn from_pointing(p: Pointing, width: u32, height: u32) -> Option<GroundModel> {
        let ok = |v: f64, lo: f64, hi: f64| v.is_finite() && v > lo && v < hi;
        if width == 0
            || height == 0
            || !ok(p.height_m, 0.0, 1e6)
            || !ok(p.hfov_deg, 0.0, 179.0)
            || !ok(p.vfov_deg, 0.0, 179.0)
        {
            return None;
        }
        let (w, hh) = (f64::from(width), f64::from(height));
        let fx = (w / 2.0) / (p.hfov_deg.to_radians() / 2.0).tan();
        let fy = (hh / 2.0) / (p.vfov_deg.to_radians() / 2.0).tan();
        // Pixel to a ray in camera axes (forward, right, down).
        let k_inv = [
            [0.0, 0.0, 1.0],
            [1.0 / fx, 0.0, -w / 2.0 / fx],
            [0.0, 1.0 / fy, -hh / 2.0 / fy],
        ];
        let ray = mul(&rotation(p.yaw_deg, p.pitch_deg, p.roll_deg), &k_inv);
        // A ray (n, e, d) meets the plane `height_m` below at
        // (n, e) · height / d: rows east, north, down.
        let hm = p.height_m;
        let h = [
            [hm * ray[1][0], hm * ray[1][1], hm * ray[1][2]],
            [hm * ray[0][0], hm * ray[0][1], hm * ray[0][2]],
            ray[2],
        ];
        if apply(&h, w / 2.0, hh / 2.0)[2] <= 1e-9 {
            return None;
        }
        Some(GroundModel {
            method: Method::Pointing,
            width,
            height,
            tangent: Tangent::at(p.lat, p.lon),
            h: Some(h),
            pointing: Some(p),
        })
    }

    /// Only the frame centre is known.
    pub fn frame_center(lat: f64, lon: f64, width: u32, height: u32) -> GroundModel {
        GroundModel {
            method: Method::FrameCenter,
            width,
            height,
            tangent: Tangent::at(lat, lon),
            h: None,
            pointing: None,
        }
    }

    /// East and north metres of pixel `(x, y)` about the model's origin;
    /// `None` above the horizon or with no homography.
    fn en(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let p = apply(self.h.as_ref()?, x, y);
        (p[2] > 1e-12).then(|| (p[0] / p[2], p[1] / p[2]))
    }

    /// `(lon, lat)` of pixel `(x, y)`. For a frame-centre model, the frame
    /// centre whatever the pixel.
    pub fn lonlat(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        match self.h {
            None => Some((self.tangent.lon, self.tangent.lat)),
            Some(_) => self.en(x, y).map(|(e, n)| self.tangent.to_lonlat(e, n)),
        }
    }

    /// Ground sample distance at pixel `(x, y)`: the square root of the
    /// pixel's area on the ground, metres.
    pub fn gsd_at(&self, x: f64, y: f64) -> Option<f64> {
        let d = 0.5;
        let (ax, ay) = self.en(x - d, y)?;
        let (bx, by) = self.en(x + d, y)?;
        let (cx, cy) = self.en(x, y - d)?;
        let (dx, dy) = self.en(x, y + d)?;
        let (ux, uy) = ((bx - ax) / (2.0 * d), (by - ay) / (2.0 * d));
        let (vx, vy) = ((dx - cx) / (2.0 * d), (dy - cy) / (2.0 * d));
        let area = (ux * vy - uy * vx).abs();
        (area.is_finite() && area > 0.0).then(|| area.sqrt())
    }

    /// A box's size on the ground: `(length, width, area)` in metres and
    /// square metres, the length being the longer of the mean extents of
    /// its two pairs of opposite sides. `None` if any corner is above the
    /// horizon or the model has no scale.
    pub fn box_size(&self, b: &BBox) -> Option<BoxSize> {
        let (x1, y1, x2, y2) = (b.x1 as f64, b.y1 as f64, b.x2 as f64, b.y2 as f64);
        let q = [
            self.en(x1, y1)?,
            self.en(x2, y1)?,
            self.en(x2, y2)?,
            self.en(x1, y2)?,
        ];
        let dist = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1);
        let across = (dist(q[0], q[1]) + dist(q[3], q[2])) / 2.0;
        let down = (dist(q[0], q[3]) + dist(q[1], q[2])) / 2.0;
        let area = (0..4)
            .map(|i| {
                let (a, c) = (q[i], q[(i + 1) % 4]);
                a.0 * c.1 - c.0 * a.1
            })
            .sum::<f64>()
            .abs()
            / 2.0;
        Some(BoxSize {
            length_m: across.max(down),
            width_m: across.min(down),
            area_m2: area,
        })
    }

    /// The footprints of many boxes: centre and, where the model has a
    /// scale, the box's corners as a closed counter-clockwise ring (empty
    /// for a frame-centre model). Boxes reaching above the horizon have no
    /// footprint.
    pub fn footprints(&self, boxes: &[BBox]) -> Vec<Option<Footprint>> {
        boxes.iter().map(|b| self.footprint(b)).collect()
    }

    fn footprint(&self, b: &BBox) -> Option<Footprint> {
        let (x1, y1, x2, y2) = (b.x1 as f64, b.y1 as f64, b.x2 as f64, b.y2 as f64);
        let (lon, lat) = self.lonlat((x1 + x2) / 2.0, (y1 + y2) / 2.0)?;
        let polygon = if self.h.is_some() {
            let corners = [(x1, y1), (x1, y2), (x2, y2), (x2, y1)];
            let mut ring = Vec::with_capacity(5);
            for (x, y) in corners {
                let (lo, la) = self.lonlat(x, y)?;
                ring.push([super::round7(lo), super::round7(la)]);
            }
            super::close_ccw(&mut ring);
            ring
        } else {
            Vec::new()
        };
        Some(Footprint {
            lon,
            lat,
            polygon,
            method: Some(self.method),
        })
    }

    /// The whole frame's footprint as a closed ring; `None` for a
    /// frame-centre model or a view that reaches above the horizon.
    pub fn frame_footprint(&self) -> Option<Vec<[f64; 2]>> {
        self.h?;
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        self.footprint(&BBox::new(0.0, 0.0, w as f32, h as f32))
            .map(|f| f.polygon)
    }

    /// The frame centre's `(lon, lat)`.
    pub fn centre(&self) -> Option<(f64, f64)> {
        self.lonlat(f64::from(self.width) / 2.0, f64::from(self.height) / 2.0)
    }
}

/// A box's extent on the ground.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoxSize {
    pub length_m: f64,
    pub width_m: f64,
    pub area_m2: f64,
}

/// How drone frames are placed on the ground where telemetry is silent;
/// the `[geo]` section of the config.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoSettings {
    /// Elevation of the ground (metres, the same datum as the sensor's
    /// altitude) where the telemetry gives no frame-centre elevation.
    pub ground_elevation_m: Option<f64>,
    /// The camera's horizontal field of view, for sources that do not
    /// state it (DJI video); the vertical follows from square pixels.
    /// Overrides what the telemetry says.
    pub hfov_deg: Option<f64>,
    /// The camera's 35 mm-equivalent focal length, for the same purpose.
    pub focal_length_35mm: Option<f64>,
    /// The camera model, looked up in the built-in table of DJI cameras.
    pub camera: Option<String>,
    /// Longest gap between two telemetry records that is interpolated
    /// across, seconds; frames in a longer gap are not placed.
    pub max_gap_s: f64,
    /// How long before the first or after the last record its pose still
    /// applies, seconds.
    pub hold_s: f64,
    /// Add each event's best-frame footprint to `events.geojson`.
    pub frame_footprints: bool,
}

impl Default for GeoSettings {
    fn default() -> Self {
        GeoSettings {
            ground_elevation_m: None,
            hfov_deg: None,
            focal_length_35mm: None,
            camera: None,
            max_gap_s: 5.0,
            hold_s: 2.0,
            frame_footprints: false,
        }
    }
}

impl GeoSettings {
    /// Checks the values; `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: &str| Err((format!("geo.{key}"), message.to_owned()));
        if let Some(h) = self.hfov_deg {
            if !(h > 0.0 && h < 179.0) {
                return bad("hfov_deg", "must be above 0 and below 179 degrees");
            }
        }
        if let Some(f) = self.focal_length_35mm {
            if !(f > 0.0 && f.is_finite()) {
                return bad(
                    "focal_length_35mm",
                    "must be a positive number of millimetres",
                );
            }
        }
        if let Some(e) = self.ground_elevation_m {
            if !e.is_finite() {
                return bad("ground_elevation_m", "must be a number of metres");
            }
        }
        if let Some(c) = &self.camera {
            if dji_focal_35mm(c).is_none() {
                let known: Vec<&str> = DJI_CAMERAS.iter().map(|c| c.0).collect();
                return Err((
                    "geo.camera".into(),
                    format!(
                        "{c:?} is not in the built-in table ({}); set geo.hfov_deg instead",
                        known.join(", ")
                    ),
                ));
            }
        }
        for (key, v) in [("max_gap_s", self.max_gap_s), ("hold_s", self.hold_s)] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(key, "must be a number of seconds, 0 or more");
            }
        }
        Ok(())
    }
}

/// 35 mm-equivalent focal lengths (mm) of common DJI cameras at no zoom,
/// by the model name EXIF and the video's metadata carry, from DJI's
/// published specifications.
pub const DJI_CAMERAS: &[(&str, &str, f64)] = &[
    ("FC220", "Mavic Pro", 26.0),
    ("FC330", "Phantom 4", 20.0),
    ("FC6310", "Phantom 4 Pro", 24.0),
    ("FC6310S", "Phantom 4 Pro V2.0", 24.0),
    ("FC2103", "Mavic Air", 24.0),
    ("FC2204", "Mavic 2 Zoom (wide end)", 24.0),
    ("L1D-20C", "Mavic 2 Pro", 28.0),
    ("FC3170", "Mavic Air 2", 24.0),
    ("FC3411", "Air 2S", 22.0),
    ("FC7203", "Mavic Mini", 24.0),
    ("FC7303", "Mini 2", 24.0),
    ("FC3582", "Mini 3 Pro", 24.0),
    ("L2D-20C", "Mavic 3", 24.0),
    ("M3E", "Mavic 3 Enterprise (wide)", 24.0),
    ("M3T", "Mavic 3 Thermal (wide)", 24.0),
];

/// Looks a camera model up in [`DJI_CAMERAS`], ignoring case.
pub fn dji_focal_35mm(model: &str) -> Option<f64> {
    let m = model.trim().to_ascii_uppercase();
    DJI_CAMERAS
        .iter()
        .find(|(name, _, _)| m == *name || m.ends_with(&format!(" {name}")))
        .map(|(_, _, f)| *f)
}

/// Horizontal and vertical fields of view from a 35 mm-equivalent focal
/// length, which by definition relates to the 43.27 mm diagonal of a
/// 36×24 mm frame; square pixels are assumed. Video modes that crop the
/// sensor make this an approximation: set `[geo] hfov_deg` where it
/// matters.
pub fn fov_from_35mm(f35: f64, zoom: f64, width: u32, height: u32) -> Option<(f64, f64)> {
    if !(f35 > 0.0 && zoom > 0.0 && width > 0 && height > 0) {
        return None;
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let focal_px = w.hypot(h) * f35 * zoom / 36f64.hypot(24.0);
    Some(fov_from_focal_px(focal_px, w, h))
}

fn fov_from_focal_px(focal_px: f64, w: f64, h: f64) -> (f64, f64) {
    (
        2.0 * (w / 2.0 / focal_px).atan().to_degrees(),
        2.0 * (h / 2.0 / focal_px).atan().to_degrees(),
    )
}

/// A frame's ground model from its telemetry, and why there is none when
/// there is none. Tries corners, then pointing, then the frame centre.
pub fn ground_model(
    r: &Record,
    width: u32,
    height: u32,
    settings: &GeoSettings,
) -> Result<GroundModel, String> {
    if let Some(c) = r.corners {
        if let Some(m) = GroundModel::from_corners(c, width, height) {
            return Ok(m);
        }
    }
    let pointing = pointing(r, width, height, settings);
    match pointing {
        Ok(p) => {
            if let Some(m) = GroundModel::from_pointing(p, width, height) {
                return Ok(m);
            }
            if let (Some(lat), Some(lon)) = (r.frame_center_lat, r.frame_center_lon) {
                return Ok(GroundModel::frame_center(lat, lon, width, height));
            }
            Err("the camera looks at or above the horizon".into())
        }
        Err(why) => match (r.frame_center_lat, r.frame_center_lon) {
            (Some(lat), Some(lon)) => Ok(GroundModel::frame_center(lat, lon, width, height)),
            _ => Err(why),
        },
    }
}

/// The camera over the ground from a record, or what is missing.
pub fn pointing(
    r: &Record,
    width: u32,
    height: u32,
    settings: &GeoSettings,
) -> Result<Pointing, String> {
    let (Some(lat), Some(lon)) = (r.lat, r.lon) else {
        return Err("no sensor position".into());
    };
    let height_m = match (
        r.alt_m,
        r.frame_center_elev_m.or(settings.ground_elevation_m),
    ) {
        (Some(alt), Some(ground)) => alt - ground,
        _ => match r.rel_alt_m {
            // DJI: height above the take-off point, taken as the ground.
            Some(rel) => rel,
            None => {
                return Err(if r.alt_m.is_some() {
                    "no ground elevation: the telemetry has no frame-centre elevation and \
                     [geo] ground_elevation_m is not set"
                        .into()
                } else {
                    "no sensor altitude".into()
                })
            }
        },
    };
    let (yaw, pitch, roll) = attitude(r).ok_or("no camera pointing angles")?;
    let (hfov, vfov) = fov(r, width, height, settings).ok_or(
        "no field of view: the telemetry has none, and no focal length or known camera \
         ([geo] hfov_deg, focal_length_35mm or camera sets one)",
    )?;
    Ok(Pointing {
        lat,
        lon,
        height_m,
        yaw_deg: yaw,
        pitch_deg: pitch,
        roll_deg: roll,
        hfov_deg: hfov,
        vfov_deg: vfov,
    })
}

/// The camera's attitude in the world: DJI's gimbal angles are already
/// absolute; ST 0601's sensor angles are relative to the platform.
fn attitude(r: &Record) -> Option<(f64, f64, f64)> {
    if let Some(pitch) = r.gimbal_pitch_deg {
        let yaw = r.gimbal_yaw_deg.or(r.heading_deg)?;
        return Some((yaw, pitch, r.gimbal_roll_deg.unwrap_or(0.0)));
    }
    let heading = r.heading_deg?;
    let elevation = r.sensor_rel_elevation_deg?;
    Some(sensor_attitude(
        (
            heading,
            r.pitch_deg.unwrap_or(0.0),
            r.roll_deg.unwrap_or(0.0),
        ),
        (
            r.sensor_rel_azimuth_deg.unwrap_or(0.0),
            elevation,
            r.sensor_rel_roll_deg.unwrap_or(0.0),
        ),
    ))
}

/// Fields of view: as stated, else from the focal length (EXIF sensor size,
/// 35 mm equivalent, the built-in DJI table) or the config.
fn fov(r: &Record, width: u32, height: u32, s: &GeoSettings) -> Option<(f64, f64)> {
    let (w, h) = (f64::from(width), f64::from(height));
    let aspect_v = |hfov: f64| {
        let focal_px = w / 2.0 / (hfov.to_radians() / 2.0).tan();
        fov_from_focal_px(focal_px, w, h).1
    };
    if let Some(hf) = s.hfov_deg {
        return Some((hf, aspect_v(hf)));
    }
    if let Some(hf) = r.hfov_deg {
        return Some((hf, r.vfov_deg.unwrap_or_else(|| aspect_v(hf))));
    }
    let zoom = r.camera.digital_zoom.filter(|z| *z > 0.0).unwrap_or(1.0);
    if let (Some(f), Some(sw)) = (r.camera.focal_length_mm, r.camera.sensor_width_mm) {
        let img_w = r.camera.image_size.map_or(w, |(iw, _)| f64::from(iw));
        if f > 0.0 && sw > 0.0 {
            // Focal length in pixels of the image the sensor size refers to,
            // scaled to this frame's width.
            let focal_px = f / sw * img_w * zoom * (w / img_w);
            return Some(fov_from_focal_px(focal_px, w, h));
        }
    }
    let f35 = s
        .focal_length_35mm
        .or(r.camera.focal_length_35mm)
        .or_else(|| s.camera.as_deref().and_then(dji_focal_35mm))
        .or_else(|| r.camera.model.as_deref().and_then(dji_focal_35mm))?;
    fov_from_35mm(f35, zoom, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metres_between(a: (f64, f64), b: (f64, f64)) -> f64 {
        let t = Tangent::at(a.1, a.0);
        let (e, n) = t.to_en(b.1, b.0);
        e.hypot(n)
    }

    const LAT: f64 = 35.5;
    const LON: f64 = 12.6;

    fn nadir(yaw: f64) -> Pointing {
        Pointing {
            lat: LAT,
            lon: LON,
            height_m: 100.0,
            yaw_deg: yaw,
            pitch_deg: -90.0,
            roll_deg: 0.0,
            hfov_deg: 90.0,
            vfov_deg: 2.0 * (0.5625f64).atan().to_degrees(),
        }
    }

    #[test]
    fn a_nadir_camera_sees_a_rectangle_of_closed_form_size() {
        // 90° HFOV at 100 m: the frame is 200 m wide; 16:9 makes it 112.5 m
        // tall, and every pixel 200/1280 m on a side.
        let g = GroundModel::from_pointing(nadir(0.0), 1280, 720).unwrap();
        let t = Tangent::at(LAT, LON);
        let centre = g.centre().unwrap();
        assert!(metres_between(centre, (LON, LAT)) < 0.01);
        let ul = g.lonlat(0.0, 0.0).unwrap();
        let (e, n) = t.to_en(ul.1, ul.0);
        assert!(
            (e + 100.0).abs() < 0.01 && (n - 56.25).abs() < 0.01,
            "{e} {n}"
        );
        let lr = g.lonlat(1280.0, 720.0).unwrap();
        let (e, n) = t.to_en(lr.1, lr.0);
        assert!(
            (e - 100.0).abs() < 0.01 && (n + 56.25).abs() < 0.01,
            "{e} {n}"
        );
        let gsd = g.gsd_at(640.0, 360.0).unwrap();
        assert!((gsd - 200.0 / 1280.0).abs() < 1e-6, "{gsd}");
        let size = g.box_size(&BBox::new(0.0, 0.0, 128.0, 64.0)).unwrap();
        assert!((size.length_m - 20.0).abs() < 1e-6 && (size.width_m - 10.0).abs() < 1e-6);
        assert!((size.area_m2 - 200.0).abs() < 1e-6);
    }

    #[test]
    fn heading_turns_the_footprint() {
        // Heading east: the top of the image points east.
        let g = GroundModel::from_pointing(nadir(90.0), 1280, 720).unwrap();
        let t = Tangent::at(LAT, LON);
        let top = g.lonlat(640.0, 0.0).unwrap();
        let (e, n) = t.to_en(top.1, top.0);
        assert!((e - 56.25).abs() < 0.01 && n.abs() < 0.01, "{e} {n}");
        let right = g.lonlat(1280.0, 360.0).unwrap();
        let (e, n) = t.to_en(right.1, right.0);
        assert!(e.abs() < 0.01 && (n + 100.0).abs() < 0.01, "{e} {n}");
    }

    #[test]
    fn an_oblique_camera_matches_the_closed_form_ground_distances() {
        // Looking north, 30° below the horizon, 100 m up: the centre ray
        // meets the ground at 100 / tan 30° north. The image's top and
        // bottom rows look vfov/2 above and below it.
        let mut p = nadir(0.0);
        p.pitch_deg = -30.0;
        let g = GroundModel::from_pointing(p, 1280, 720).unwrap();
        let t = Tangent::at(LAT, LON);
        let at = |x: f64, y: f64| {
            let q = g.lonlat(x, y).unwrap();
            t.to_en(q.1, q.0)
        };
        let (e, n) = at(640.0, 360.0);
        assert!(e.abs() < 0.01 && (n - 100.0 / 30f64.to_radians().tan()).abs() < 0.01);
        let half_v = p.vfov_deg / 2.0;
        let (_, n_top) = at(640.0, 0.0);
        let (_, n_bottom) = at(640.0, 720.0);
        let expect = |deg: f64| 100.0 / deg.to_radians().tan();
        assert!((n_top - expect(30.0 - half_v)).abs() < 0.01, "{n_top}");
        assert!(
            (n_bottom - expect(30.0 + half_v)).abs() < 0.01,
            "{n_bottom}"
        );
        // The far edge is wider than the near edge; on the centre row, x
        // spreads as the slant distance over the focal length.
        let (e_right, _) = at(1280.0, 360.0);
        let slant = 100.0 / 30f64.to_radians().sin();
        assert!((e_right - slant).abs() < 0.01, "{e_right} vs {slant}");
        // Pixels further away cover more ground.
        assert!(g.gsd_at(640.0, 10.0).unwrap() > g.gsd_at(640.0, 710.0).unwrap());
        // Tilted above the horizon: no ground under the centre.
        p.pitch_deg = 10.0;
        assert!(GroundModel::from_pointing(p, 1280, 720).is_none());
    }

    #[test]
    fn corners_from_an_oblique_camera_give_the_same_ground_as_its_angles() {
        let mut p = nadir(35.0);
        p.pitch_deg = -60.0;
        p.roll_deg = 3.0;
        let by_angles = GroundModel::from_pointing(p, 1280, 720).unwrap();
        let c = |x, y| {
            let q = by_angles.lonlat(x, y).unwrap();
            [q.0, q.1]
        };
        let corners = [c(0.0, 0.0), c(1280.0, 0.0), c(1280.0, 720.0), c(0.0, 720.0)];
        let by_corners = GroundModel::from_corners(corners, 1280, 720).unwrap();
        assert_eq!(by_corners.method, Method::Corners);
        for (x, y) in [
            (640.0, 360.0),
            (100.0, 50.0),
            (1000.0, 700.0),
            (333.0, 222.0),
        ] {
            let a = by_angles.lonlat(x, y).unwrap();
            let b = by_corners.lonlat(x, y).unwrap();
            assert!(metres_between(a, b) < 0.02, "({x},{y}): {a:?} vs {b:?}");
            let (ga, gb) = (
                by_angles.gsd_at(x, y).unwrap(),
                by_corners.gsd_at(x, y).unwrap(),
            );
            assert!((ga - gb).abs() / ga < 1e-4, "{ga} vs {gb}");
        }
    }

    #[test]
    fn st0601_sensor_angles_compose_with_the_platform() {
        // A level platform heading 90° with the sensor turned 90° right and
        // looking 45° down: the camera looks south, 45° down.
        let (yaw, pitch, roll) = sensor_attitude((90.0, 0.0, 0.0), (90.0, -45.0, 0.0));
        assert!((yaw - 180.0).abs() < 1e-9 && (pitch + 45.0).abs() < 1e-9 && roll.abs() < 1e-9);
        // The platform pitched 10° nose up adds to the sensor's elevation
        // when it looks ahead.
        let (_, pitch, _) = sensor_attitude((0.0, 10.0, 0.0), (0.0, -50.0, 0.0));
        assert!((pitch + 40.0).abs() < 1e-9);
    }

    #[test]
    fn a_record_chooses_corners_then_pointing_then_the_frame_centre() {
        let s = GeoSettings::default();
        let mut r = Record::default();
        assert_eq!(
            ground_model(&r, 1280, 720, &s).unwrap_err(),
            "no sensor position"
        );
        r.frame_center_lat = Some(LAT);
        r.frame_center_lon = Some(LON);
        assert_eq!(
            ground_model(&r, 1280, 720, &s).unwrap().method,
            Method::FrameCenter
        );
        let g = ground_model(&r, 1280, 720, &s).unwrap();
        let f = &g.footprints(&[BBox::new(0.0, 0.0, 10.0, 10.0)])[0];
        let f = f.as_ref().unwrap();
        assert!(f.polygon.is_empty() && f.lat == LAT && f.lon == LON);
        assert!(g.gsd_at(5.0, 5.0).is_none());
        // DJI: position, height above take-off, gimbal straight down, and
        // a 24 mm-equivalent lens.
        r.lat = Some(LAT);
        r.lon = Some(LON);
        r.rel_alt_m = Some(50.0);
        r.gimbal_pitch_deg = Some(-90.0);
        r.gimbal_yaw_deg = Some(0.0);
        let err = ground_model(
            &Record {
                frame_center_lat: None,
                ..r.clone()
            },
            1280,
            720,
            &s,
        );
        assert!(err.unwrap_err().contains("no field of view"));
        r.camera.focal_length_35mm = Some(24.0);
        let g = ground_model(&r, 1920, 1080, &s).unwrap();
        assert_eq!(g.method, Method::Pointing);
        let (hfov, _) = fov_from_35mm(24.0, 1.0, 1920, 1080).unwrap();
        // A 24 mm-equivalent lens has an 84° diagonal field of view
        // (DJI's figure); on a 16:9 frame that is 76.3° across.
        let dfov = 2.0 * (43.2666f64 / 48.0).atan().to_degrees();
        assert!((dfov - 84.0).abs() < 0.1, "{dfov}");
        assert!((hfov - 76.31).abs() < 0.01, "{hfov}");
        let expect_gsd = 2.0 * 50.0 * (hfov.to_radians() / 2.0).tan() / 1920.0;
        assert!((g.gsd_at(960.0, 540.0).unwrap() - expect_gsd).abs() < 1e-9);
        r.corners = Some([
            [LON, LAT + 1e-4],
            [LON + 1e-4, LAT + 1e-4],
            [LON + 1e-4, LAT],
            [LON, LAT],
        ]);
        assert_eq!(
            ground_model(&r, 1280, 720, &s).unwrap().method,
            Method::Corners
        );
        assert_eq!(dji_focal_35mm("fc7303"), Some(24.0));
    }
}
