//! Georeferencing: raster pixels to map coordinates, ground sample
//! distance, and GeoJSON.
//!
//! A pixel position `(x, y)` (continuous, origin at the top-left corner of
//! the top-left pixel, as detection boxes are) goes to the raster's CRS
//! through its affine geotransform, and on to WGS84 longitude and latitude
//! through GDAL/PROJ. Both CRSs use the traditional GIS axis order (x =
//! easting or longitude), whatever the EPSG definition says, so that
//! EPSG:4326 rasters are not read as latitude first.
//!
//! **Ground sample distance** is measured, not read off the geotransform:
//! a pixel's two edge vectors are projected to WGS84 and converted to metres
//! with the WGS84 ellipsoid's radii of curvature at that latitude. That is
//! right for geographic CRSs (where a pixel is degrees, and a degree of
//! longitude shrinks with latitude), for projected CRSs in any linear unit,
//! and for rotated geotransforms. The single figure is the square root of
//! the pixel's ground area, so `count / (area_px * gsd²)` is a density in
//! people per m².
//!
//! [`GeoJsonLog`] writes an RFC 7946 FeatureCollection a feature at a time,
//! so a scene with thousands of detections never sits in memory as JSON.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use serde::Serialize;
use serde_json::{json, Value};

use crate::geom::BBox;

pub mod camera;

/// WGS84 semi-major axis, metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS84 first eccentricity squared.
const WGS84_E2: f64 = 0.006_694_379_990_141_316;

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("the raster's coordinate reference system is not usable: {0}")]
    Crs(String),
    #[error("cannot transform coordinates to WGS84: {0}")]
    Transform(String),
}

/// Where one box lies on the ground.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Footprint {
    /// WGS84 longitude of the box's centre, degrees.
    pub lon: f64,
    /// WGS84 latitude of the box's centre, degrees.
    pub lat: f64,
    /// Closed counter-clockwise ring of `[lon, lat]`: the box's four corners
    /// and the first again (RFC 7946 exterior ring). Empty when only the
    /// centre is known (a drone frame placed by its centre alone).
    pub polygon: Vec<[f64; 2]>,
    /// How a drone frame's position was found; `None` for rasters, which
    /// are placed by their geotransform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<camera::Method>,
}

impl Footprint {
    /// The GeoJSON geometry: the polygon, or the centre as a point when
    /// there is no polygon.
    pub fn geometry(&self) -> Value {
        if self.polygon.is_empty() {
            json!({"type": "Point", "coordinates": [round7(self.lon), round7(self.lat)]})
        } else {
            json!({"type": "Polygon", "coordinates": [self.polygon]})
        }
    }
}

/// About 1 cm on the ground; RFC 7946 recommends no more precision than
/// the data has.
fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// A raster's georeferencing: geotransform and CRS.
///
/// Holds the CRS as WKT, not as GDAL handles, so it is `Send + Sync` and can
/// travel with frames; each call builds its transformation (well under a
/// millisecond), so callers should pass many points at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Georef {
    /// GDAL order: `[x0, px_w, row_rot, y0, col_rot, px_h]`.
    pub geotransform: [f64; 6],
    pub crs_wkt: String,
    /// The CRS's name, e.g. "WGS 84 / UTM zone 33N".
    pub crs_name: Option<String>,
    /// "EPSG:32633", when GDAL can tell.
    pub crs_code: Option<String>,
}

fn gis_order(mut srs: SpatialRef) -> SpatialRef {
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    srs
}

impl Georef {
    /// From a geotransform and a CRS in any form GDAL accepts (WKT,
    /// `EPSG:n`, PROJ string).
    pub fn new(geotransform: [f64; 6], crs: &str) -> Result<Georef, GeoError> {
        let srs = SpatialRef::from_definition(crs).map_err(|e| GeoError::Crs(e.to_string()))?;
        let crs_code = match (srs.auth_name(), srs.auth_code()) {
            (Some(name), Ok(code)) => Some(format!("{name}:{code}")),
            _ => None,
        };
        let georef = Georef {
            geotransform,
            crs_wkt: srs.to_wkt().map_err(|e| GeoError::Crs(e.to_string()))?,
            crs_name: srs.name(),
            crs_code,
        };
        // Fail now, not at the first detection, if PROJ cannot reach WGS84.
        georef.transform()?;
        let det = geotransform[1] * geotransform[5] - geotransform[2] * geotransform[4];
        if det == 0.0 || !det.is_finite() {
            return Err(GeoError::Crs(format!(
                "the geotransform {geotransform:?} is degenerate"
            )));
        }
        Ok(georef)
    }

    /// Pixel position to the raster's CRS.
    pub fn pixel_to_crs(&self, x: f64, y: f64) -> (f64, f64) {
        let g = &self.geotransform;
        (g[0] + x * g[1] + y * g[2], g[3] + x * g[4] + y * g[5])
    }

    fn transform(&self) -> Result<CoordTransform, GeoError> {
        let src = SpatialRef::from_wkt(&self.crs_wkt).map_err(|e| GeoError::Crs(e.to_string()))?;
        let dst = SpatialRef::from_epsg(4326).map_err(|e| GeoError::Crs(e.to_string()))?;
        CoordTransform::new(&gis_order(src), &gis_order(dst))
            .map_err(|e| GeoError::Transform(e.to_string()))
    }

    /// Pixel positions to WGS84 `(lon, lat)`, all in one transformation.
    pub fn to_wgs84(&self, pixels: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, GeoError> {
        if pixels.is_empty() {
            return Ok(Vec::new());
        }
        let (mut xs, mut ys): (Vec<f64>, Vec<f64>) =
            pixels.iter().map(|&(x, y)| self.pixel_to_crs(x, y)).unzip();
        let mut zs = vec![0.0; xs.len()];
        self.with_transform(|t| {
            t.transform_coords(&mut xs, &mut ys, &mut zs)
                .map_err(|e| GeoError::Transform(e.to_string()))
        })?;
        Ok(xs.into_iter().zip(ys).collect())
    }

    /// Calls `f` with this CRS's transformation to WGS84, made once per
    /// thread and CRS. Making one parses the CRS and asks PROJ for a
    /// route, which cost more than the points of a detection's footprint:
    /// a scene's GeoJSON asks for one per detection.
    fn with_transform<T>(
        &self,
        f: impl FnOnce(&CoordTransform) -> Result<T, GeoError>,
    ) -> Result<T, GeoError> {
        // A GDAL transformation is not thread-safe: each thread keeps its
        // own, for the last few CRSs it used.
        thread_local! {
            static TRANSFORMS: std::cell::RefCell<Vec<(String, CoordTransform)>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        const KEPT: usize = 4;
        TRANSFORMS.with(|cell| {
            let mut kept = cell.borrow_mut();
            let at = match kept.iter().position(|(wkt, _)| *wkt == self.crs_wkt) {
                Some(at) => at,
                None => {
                    let t = self.transform()?;
                    if kept.len() == KEPT {
                        kept.remove(0);
                    }
                    kept.push((self.crs_wkt.clone(), t));
                    kept.len() - 1
                }
            };
            f(&kept[at].1)
        })
    }

    /// The footprints of many boxes, in one transformation.
    pub fn footprints(&self, boxes: &[BBox]) -> Result<Vec<Footprint>, GeoError> {
        let points: Vec<(f64, f64)> = boxes
            .iter()
            .flat_map(|b| {
                let (x1, y1, x2, y2) = (b.x1 as f64, b.y1 as f64, b.x2 as f64, b.y2 as f64);
                [
                    ((x1 + x2) / 2.0, (y1 + y2) / 2.0),
                    (x1, y1),
                    (x1, y2),
                    (x2, y2),
                    (x2, y1),
                ]
            })
            .collect();
        let lonlat = self.to_wgs84(&points)?;
        Ok(lonlat
            .chunks_exact(5)
            .map(|p| {
                let mut ring: Vec<[f64; 2]> = p[1..]
                    .iter()
                    .map(|&(x, y)| [round7(x), round7(y)])
                    .collect();
                close_ccw(&mut ring);
                Footprint {
                    lon: p[0].0,
                    lat: p[0].1,
                    polygon: ring,
                    method: None,
                }
            })
            .collect())
    }

    /// Ground sample distance around pixel `(x, y)`, in metres per pixel:
    /// `(along a row, down a column, square root of the pixel's area)`.
    pub fn gsd_at(&self, x: f64, y: f64) -> Result<(f64, f64, f64), GeoError> {
        // A span of pixels keeps the differences well above rounding.
        let d = 16.0;
        let p = self.to_wgs84(&[(x, y), (x + d, y), (x, y + d)])?;
        let lat = p[0].1.to_radians();
        let w = 1.0 - WGS84_E2 * lat.sin().powi(2);
        // Metres per radian along a meridian (M) and along a parallel (N cos φ).
        let m = WGS84_A * (1.0 - WGS84_E2) / w.powf(1.5);
        let n = WGS84_A / w.sqrt();
        let metres = |q: (f64, f64)| {
            let mut dlon = q.0 - p[0].0;
            if dlon > 180.0 {
                dlon -= 360.0;
            } else if dlon < -180.0 {
                dlon += 360.0;
            }
            (
                dlon.to_radians() * n * lat.cos(),
                (q.1 - p[0].1).to_radians() * m,
            )
        };
        let (ax, ay) = metres(p[1]);
        let (bx, by) = metres(p[2]);
        let gx = ax.hypot(ay) / d;
        let gy = bx.hypot(by) / d;
        let area = (ax * by - ay * bx).abs() / (d * d);
        Ok((gx, gy, area.sqrt()))
    }

    /// What run records say about the georeferencing.
    pub fn describe(&self) -> Value {
        json!({
            "crs": self.crs_code,
            "crs_name": self.crs_name,
            "geotransform": self.geotransform,
        })
    }
}

/// Makes an open ring of corners a closed counter-clockwise one. Top-left,
/// bottom-left, bottom-right, top-right runs counter-clockwise on a north-up
/// map; a flipped or rotated geotransform, or a camera's heading, may
/// reverse it.
fn close_ccw(ring: &mut Vec<[f64; 2]>) {
    if signed_area(ring) < 0.0 {
        ring.reverse();
    }
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
}

/// Counts of how a stream's frames were placed, for `run.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PlacementCounts {
    /// Frames placed, by method (`corners`, `pointing`, `frame_center`).
    pub placed: std::collections::BTreeMap<String, u64>,
    /// Frames not placed although their input has telemetry, by reason.
    pub unplaced: std::collections::BTreeMap<String, u64>,
}

impl PlacementCounts {
    /// Counts one frame: placed by `method`, or not placed because of
    /// `unplaced`; a frame with neither (no telemetry at all) is not counted.
    pub fn note(&mut self, method: Option<&str>, unplaced: Option<&str>) {
        if let Some(m) = method {
            *self.placed.entry(m.to_owned()).or_default() += 1;
        } else if let Some(why) = unplaced {
            *self.unplaced.entry(why.to_owned()).or_default() += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.placed.is_empty() && self.unplaced.is_empty()
    }
}

/// How a frame's pixels reach the map: a raster's geotransform, or a drone
/// frame's camera model.
#[derive(Debug, Clone, Copy)]
pub enum Placement<'a> {
    Raster(&'a Georef),
    Camera(&'a camera::GroundModel),
}

impl Placement<'_> {
    /// The footprint of each box; `None` for a box a camera sees above the
    /// horizon.
    pub fn footprints(&self, boxes: &[BBox]) -> Result<Vec<Option<Footprint>>, GeoError> {
        match self {
            Placement::Raster(g) => Ok(g.footprints(boxes)?.into_iter().map(Some).collect()),
            Placement::Camera(m) => Ok(m.footprints(boxes)),
        }
    }

    /// Square root of the ground area of the pixel at `(x, y)`, metres.
    pub fn gsd_at(&self, x: f64, y: f64) -> Option<f64> {
        match self {
            Placement::Raster(g) => g.gsd_at(x, y).ok().map(|(_, _, s)| s),
            Placement::Camera(m) => m.gsd_at(x, y),
        }
    }

    /// How positions were found: `georef` for rasters, else the camera
    /// model's method.
    pub fn method(&self) -> &'static str {
        match self {
            Placement::Raster(_) => "georef",
            Placement::Camera(m) => m.method.name(),
        }
    }
}

/// Twice the signed area of a ring (positive when counter-clockwise).
fn signed_area(ring: &[[f64; 2]]) -> f64 {
    (0..ring.len())
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// A GeoJSON FeatureCollection written a feature at a time. Until
/// [`finish`](GeoJsonLog::finish) the file lacks its closing brackets.
pub struct GeoJsonLog {
    path: PathBuf,
    file: BufWriter<File>,
    features: u64,
}

impl GeoJsonLog {
    pub fn create(path: &Path) -> std::io::Result<GeoJsonLog> {
        let mut file = BufWriter::new(File::create(path)?);
        file.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
        Ok(GeoJsonLog {
            path: path.to_owned(),
            file,
            features: 0,
        })
    }

    /// Reopens a collection that a stopped run left (closed or not),
    /// keeping the features for which `keep` holds and returning the
    /// others. A last feature cut short by a kill is dropped.
    pub fn resume(
        path: &Path,
        keep: impl Fn(&Value) -> bool,
    ) -> std::io::Result<(GeoJsonLog, Vec<Value>)> {
        let text = std::fs::read_to_string(path)?;
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        // One feature a line, as `push` writes them.
        for line in text.lines().skip(1) {
            let line = line.trim_end_matches(',');
            let Ok(feature) = serde_json::from_str::<Value>(line) else {
                continue; // `]}` or a line cut short
            };
            if keep(&feature) {
                kept.push(feature);
            } else {
                dropped.push(feature);
            }
        }
        let mut log = GeoJsonLog::create(path)?;
        for f in kept {
            if log.features > 0 {
                log.file.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut log.file, &f)?;
            log.features += 1;
        }
        log.file.flush()?;
        Ok((log, dropped))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a feature with this geometry and properties.
    pub fn push(&mut self, geometry: Value, properties: Value) -> std::io::Result<()> {
        if self.features > 0 {
            self.file.write_all(b",\n")?;
        }
        let feature = json!({"type": "Feature", "geometry": geometry, "properties": properties});
        serde_json::to_writer(&mut self.file, &feature)?;
        self.features += 1;
        Ok(())
    }

    pub fn features(&self) -> u64 {
        self.features
    }

    /// Closes the collection and syncs the file.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        self.file.write_all(b"\n]}\n")?;
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_pixels_land_where_proj_says() {
        // 0.5 m pixels, origin at 500000 E 4650000 N in UTM 33N: the
        // central meridian (15° E), about 42° N.
        let g = Georef::new([500_000.0, 0.5, 0.0, 4_650_000.0, 0.0, -0.5], "EPSG:32633").unwrap();
        assert_eq!(g.crs_code.as_deref(), Some("EPSG:32633"));
        let p = g.to_wgs84(&[(0.0, 0.0)]).unwrap()[0];
        assert!((p.0 - 15.0).abs() < 1e-9, "{p:?}");
        assert!((p.1 - 42.0).abs() < 0.05, "{p:?}");
        let (gx, gy, gsd) = g.gsd_at(0.0, 0.0).unwrap();
        // On the central meridian UTM's scale factor is 0.9996.
        for v in [gx, gy, gsd] {
            assert!((v - 0.5 / 0.9996).abs() < 1e-3, "{v}");
        }
    }

    #[test]
    fn geographic_gsd_shrinks_with_latitude_along_rows() {
        // 1e-5° pixels at the equator and at 60° N.
        let at = |lat: f64| {
            Georef::new([10.0, 1e-5, 0.0, lat, 0.0, -1e-5], "EPSG:4326")
                .unwrap()
                .gsd_at(0.0, 0.0)
                .unwrap()
        };
        let (ex, ey, _) = at(0.0);
        let (nx, ny, _) = at(60.0);
        // Published lengths of a degree on WGS84: 111.320 and 110.574 km at the
        // equator, 55.800 and 111.412 km at 60° N.
        assert!((ex - 1.113195).abs() < 1e-4, "{ex}");
        assert!((ey - 1.105743).abs() < 1e-4, "{ey}");
        assert!((nx - 0.558000).abs() < 1e-4, "{nx}");
        assert!((ny - 1.114123).abs() < 1e-4, "{ny}");
    }

    #[test]
    fn footprints_are_closed_counter_clockwise_rings_in_lon_lat_order() {
        let g = Georef::new([20.0, 1e-4, 0.0, 35.0, 0.0, -1e-4], "EPSG:4326").unwrap();
        let f = &g.footprints(&[BBox::new(10.0, 20.0, 30.0, 60.0)]).unwrap()[0];
        assert!(
            (f.lon - 20.002).abs() < 1e-9 && (f.lat - 34.996).abs() < 1e-9,
            "{f:?}"
        );
        assert_eq!(f.polygon.len(), 5);
        assert_eq!(f.polygon[0], f.polygon[4]);
        assert_eq!(f.polygon[0], [20.001, 34.998]);
        assert!(signed_area(&f.polygon[..4]) > 0.0);
        // A south-up raster reverses the corner order; the ring is fixed.
        let flipped = Georef::new([20.0, 1e-4, 0.0, 35.0, 0.0, 1e-4], "EPSG:4326").unwrap();
        let f = &flipped
            .footprints(&[BBox::new(10.0, 20.0, 30.0, 60.0)])
            .unwrap()[0];
        assert!(signed_area(&f.polygon[..4]) > 0.0);
    }

    #[test]
    fn bad_crs_and_degenerate_transforms_are_refused() {
        assert!(Georef::new([0.0, 1.0, 0.0, 0.0, 0.0, -1.0], "EPSG:999999").is_err());
        let e = Georef::new([0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "EPSG:4326").unwrap_err();
        assert!(e.to_string().contains("degenerate"), "{e}");
    }

    #[test]
    fn geojson_log_is_a_valid_feature_collection() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = GeoJsonLog::create(&dir.path().join("d.geojson")).unwrap();
        for i in 0..3 {
            log.push(
                json!({"type": "Point", "coordinates": [i, i]}),
                json!({"i": i}),
            )
            .unwrap();
        }
        let path = log.finish().unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(v["type"], "FeatureCollection");
        assert_eq!(v["features"].as_array().unwrap().len(), 3);
        assert_eq!(v["features"][2]["properties"]["i"], 2);
    }
}
