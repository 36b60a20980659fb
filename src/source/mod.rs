//! Sources: everything that yields frames. Video files go through FFmpeg
//! ([`video`]), still images through the `image` crate ([`still`]), and
//! rasters (GeoTIFF, NITF, JPEG 2000, images with world files) through GDAL
//! ([`raster`]), one window at a time.
//!
//! [`discover`] expands the paths a user typed (files, folders walked
//! recursively) into a deterministic list of [`Input`]s; [`open`] turns one
//! into a running [`Source`]. Only this module reads pixels through FFmpeg
//! and GDAL ([`crate::geo`] uses GDAL for coordinates only).

pub mod adaptive;
pub mod raster;
pub mod still;
pub mod telemetry;
pub mod video;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::frame::Frame;

/// Errors from finding, opening or decoding an input. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: no such file or folder")]
    Missing { path: PathBuf },
    /// A FIFO, device or socket: never opened, since reading one could
    /// block forever (a FIFO) or never end (`/dev/zero`).
    #[error("{path} is not a regular file ({what}); skipped")]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open video {path}: {message}")]
    OpenVideo { path: PathBuf, message: String },
    #[error("{path} is not a supported image or video: {message}")]
    NotMedia { path: PathBuf, message: String },
    #[error("cannot open raster {path}: {message}")]
    OpenRaster { path: PathBuf, message: String },
    /// GDAL has no driver for the file (empty, or not a raster at all).
    #[error("{path} is not a raster GDAL can read: {reason}")]
    NotRaster { path: PathBuf, reason: String },
    /// A raster whose pixel blocks cannot all be read: cut short or corrupt.
    #[error("raster {path} is damaged: {message}")]
    DamagedRaster { path: PathBuf, message: String },
    /// An image file that ends before its image data does.
    #[error("image {path} is truncated: {detail}")]
    Truncated { path: PathBuf, detail: String },
    /// An image whose header declares more pixels than the decoder may
    /// allocate; nothing is decoded.
    #[error(
        "image {path} declares {width} × {height} pixels ({needed}), over the decoder's limit of {limit}"
    )]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        needed: String,
        limit: String,
    },
    #[error("cannot decode image {path}: {message}")]
    Image { path: PathBuf, message: String },
    #[error(transparent)]
    Telemetry(#[from] crate::telemetry::TelemetryError),
    #[error("video {path} is damaged after frame {frames}: {message}")]
    Decode {
        path: PathBuf,
        frames: u64,
        message: String,
    },
}

/// A decoder's message on one line: some end in a newline or wrap (the
/// JPEG decoder's "found 0\n", GDAL's NITF driver), which would break a
/// log line and run.json's `error` in two.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What kind of decoder an input needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    Video,
    Image,
    /// Read by GDAL in windows, and georeferenced when it can be.
    Raster,
}

/// One input file of a run, in the order frames are screened.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub path: PathBuf,
    pub kind: InputKind,
}

/// Static facts about an opened source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub uri: String,
    pub kind: InputKind,
    pub width: u32,
    pub height: u32,
    /// Average frame rate of a video, when the container states it.
    pub fps: Option<f64>,
    /// Frames the container expects, when it says; used for progress only.
    pub frames_hint: Option<u64>,
    pub duration_s: Option<f64>,
    pub codec: Option<String>,
    /// For rasters: driver, bands and their stretch, georeferencing, tiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raster: Option<serde_json::Value>,
    /// For video and stills: the telemetry found (or why there is none),
    /// as [`telemetry::TelemetryInfo`] says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<serde_json::Value>,
}

/// Anything that yields frames in presentation order.
pub trait Source: Send {
    fn info(&self) -> &SourceInfo;
    /// The next frame kept by sampling, or `None` at the end of the input.
    /// After an error the source is finished.
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
    /// Stretches that could not be decoded so far (video only).
    fn gaps(&self) -> Vec<crate::frame::Gap> {
        Vec::new()
    }
    /// What sampling did so far (video only).
    fn sampling(&self) -> Option<adaptive::SamplingCounts> {
        None
    }
}

/// Which decoded frames to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sampling {
    /// Keep every `stride`-th decoded frame (1 keeps all).
    pub stride: u64,
    /// Keep at most this many frames per second of video time.
    pub max_fps: Option<f64>,
    /// Of the frames kept, infer all, or only where something can be.
    pub mode: adaptive::SampleMode,
    pub adaptive: adaptive::AdaptiveParams,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            stride: 1,
            max_fps: None,
            mode: adaptive::SampleMode::Full,
            adaptive: adaptive::AdaptiveParams::default(),
        }
    }
}

/// Applies [`Sampling`] to a stream of decoded frames, using timestamps (not
/// frame counts) for the rate limit so variable-frame-rate video is sampled
/// evenly in time.
#[derive(Debug, Clone)]
pub struct Sampler {
    sampling: Sampling,
    next_due_s: Option<f64>,
}

impl Sampler {
    pub fn new(sampling: Sampling) -> Self {
        Sampler {
            sampling,
            next_due_s: None,
        }
    }

    /// Whether to keep decoded frame number `index` shown at `pts_s`.
    pub fn keep(&mut self, index: u64, pts_s: Option<f64>) -> bool {
        if !index.is_multiple_of(self.sampling.stride.max(1)) {
            return false;
        }
        let (Some(fps), Some(t)) = (self.sampling.max_fps, pts_s) else {
            return true;
        };
        let period = 1.0 / fps;
        match self.next_due_s {
            // A small tolerance absorbs timestamp rounding (e.g. 1/30 s in a
            // 1/90000 time base) so 30 fps sampled at 10 keeps every third.
            Some(due) if t + 1e-3 * period < due => false,
            Some(due) => {
                // Advance from the schedule, not from `t`, so the rate holds;
                // after a gap longer than a period, restart from `t`.
                self.next_due_s = Some(if t - due >= period {
                    t + period
                } else {
                    due + period
                });
                true
            }
            None => {
                self.next_due_s = Some(t + period);
                true
            }
        }
    }
}

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp"];
const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "mkv", "mov", "ts", "m2ts", "mts", "avi", "webm", "m4v", "mpg", "mpeg", "flv", "wmv",
];

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Guesses the decoder for a file: by extension (TIFF, NITF, JPEG 2000 and
/// images with a world file go to GDAL), then by sniffing the first bytes
/// for an image format; anything else is handed to FFmpeg, which decides
/// whether it is a video.
fn classify(path: &Path) -> InputKind {
    match extension(path) {
        Some(e) if raster::is_raster_extension(&e) => InputKind::Raster,
        Some(e) if IMAGE_EXTENSIONS.contains(&e.as_str()) && raster::has_world_file(path) => {
            InputKind::Raster
        }
        Some(e) if IMAGE_EXTENSIONS.contains(&e.as_str()) => InputKind::Image,
        Some(e) if VIDEO_EXTENSIONS.contains(&e.as_str()) => InputKind::Video,
        _ => match image::ImageReader::open(path).and_then(|r| r.with_guessed_format()) {
            Ok(r) if r.format().is_some() => InputKind::Image,
            _ => InputKind::Video,
        },
    }
}

/// Expands user paths into inputs. Folders are walked recursively in name
/// order and contribute only files with image or video extensions; files
/// named explicitly are always included. Paths that do not exist, and
/// FIFOs, devices and sockets (which are never opened), become errors,
/// returned beside the inputs so the rest of the batch goes on.
pub fn discover(paths: &[PathBuf]) -> (Vec<Input>, Vec<SourceError>) {
    let (found, errors) = discover_under(paths);
    (found.into_iter().map(|f| f.input).collect(), errors)
}

/// An input with the path it was found through.
#[derive(Debug, Clone)]
pub struct Found {
    pub input: Input,
    /// The index in `paths` of the folder it was found in, or of the file
    /// itself when it was named directly.
    pub arg: usize,
    /// Whether `paths[arg]` is a folder the input was found under.
    pub in_folder: bool,
}

/// As [`discover`], saying for each input which of `paths` gave it: the
/// shard key of an input (see `crate::run::shard`) is its path relative
/// to the folder it was found in.
pub fn discover_under(paths: &[PathBuf]) -> (Vec<Found>, Vec<SourceError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (arg, path) in paths.iter().enumerate() {
        // `metadata` follows symlinks, as opening the file would.
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let mut inputs = Vec::new();
                walk(path, &mut inputs, &mut errors);
                found.extend(inputs.into_iter().map(|input| Found {
                    input,
                    arg,
                    in_folder: true,
                }));
            }
            Ok(m) if m.is_file() => found.push(Found {
                input: Input {
                    path: path.clone(),
                    kind: classify(path),
                },
                arg,
                in_folder: false,
            }),
            Ok(m) => errors.push(SourceError::NotRegular {
                path: path.clone(),
                what: describe_file_type(m.file_type()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                errors.push(SourceError::Missing { path: path.clone() })
            }
            Err(source) => errors.push(SourceError::Io {
                path: path.clone(),
                source,
            }),
        }
    }
    (found, errors)
}

/// Whether a folder walk picks up a file with this name.
fn has_media_extension(path: &Path) -> bool {
    extension(path).is_some_and(|x| {
        IMAGE_EXTENSIONS.contains(&x.as_str())
            || VIDEO_EXTENSIONS.contains(&x.as_str())
            || raster::is_raster_extension(&x)
    })
}

/// Adds the media files under `dir` to `inputs`. A FIFO or device with a
/// media extension is reported, as it would be if named on the command
/// line; other non-media entries are passed over silently.
fn walk(dir: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<SourceError>) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_dir() || !has_media_extension(e.path()) => {}
            Ok(e) if e.file_type().is_file() => inputs.push(Input {
                path: e.path().to_owned(),
                kind: classify(e.path()),
            }),
            Ok(e) => errors.push(SourceError::NotRegular {
                path: e.path().to_owned(),
                what: describe_file_type(e.file_type()),
            }),
            Err(e) => errors.push(SourceError::Io {
                path: e
                    .path()
                    .map(Path::to_owned)
                    .unwrap_or_else(|| dir.to_owned()),
                source: e.into(),
            }),
        }
    }
}

/// Names a file type that is neither a regular file nor a folder, for
/// [`SourceError::NotRegular`].
fn describe_file_type(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        return "a broken symbolic link";
    }
    "not a file or folder"
}

/// Options shared by every source.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub sampling: Sampling,
    /// Decoder threads for video; 0 lets FFmpeg choose.
    pub decode_threads: usize,
    /// How rasters are read and cut into windows.
    pub raster: raster::RasterOptions,
    /// A telemetry file for the video or still (`--telemetry`); otherwise
    /// each finds its own (see [`telemetry`]).
    pub telemetry: Option<PathBuf>,
    /// How drone frames are placed on the ground.
    pub geo: crate::geo::camera::GeoSettings,
    /// With adaptive sampling: the consumer's news of each stream.
    pub feedback: Option<std::sync::Arc<adaptive::Feedback>>,
    /// The detector's preprocessing, for keyframe probes, which are
    /// converted straight to the size it resizes frames to; `None`
    /// converts them in full.
    pub probe_for: Option<crate::detect::Preprocess>,
}

/// Opens an input as a frame source.
pub fn open(
    input: &Input,
    source_id: usize,
    options: &OpenOptions,
) -> Result<Box<dyn Source>, SourceError> {
    match input.kind {
        InputKind::Image => Ok(Box::new(still::StillSource::open(
            &input.path,
            source_id,
            options,
        )?)),
        InputKind::Video => Ok(Box::new(video::VideoSource::open(
            &input.path,
            source_id,
            options,
        )?)),
        InputKind::Raster => Ok(Box::new(raster::RasterSource::open(
            &input.path,
            source_id,
            &options.raster,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_messages_are_put_on_one_line() {
        assert_eq!(
            one_line(
                "Unable to read FSDWNG field from NITF file.  File is either corrupt\nor empty.\n"
            ),
            "Unable to read FSDWNG field from NITF file.  File is either corrupt or empty."
        );
        assert_eq!(
            one_line("expected 2 but found 0\n"),
            "expected 2 but found 0"
        );
    }

    #[test]
    fn stride_keeps_every_nth() {
        let mut s = Sampler::new(Sampling {
            stride: 3,
            ..Default::default()
        });
        let kept: Vec<u64> = (0..10)
            .filter(|&i| s.keep(i, Some(i as f64 / 30.0)))
            .collect();
        assert_eq!(kept, vec![0, 3, 6, 9]);
    }

    #[test]
    fn fps_limit_uses_timestamps() {
        // 30 fps video with timestamps in a 1/90000 time base, sampled at 10.
        let mut s = Sampler::new(Sampling {
            max_fps: Some(10.0),
            ..Default::default()
        });
        let kept: Vec<u64> = (0..30)
            .filter(|&i| s.keep(i, Some((i * 3000) as f64 / 90000.0)))
            .collect();
        assert_eq!(kept, vec![0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
        // A gap in timestamps (dropped frames) does not cause a burst after it.
        let mut s = Sampler::new(Sampling {
            max_fps: Some(1.0),
            ..Default::default()
        });
        let times = [0.0, 0.5, 5.0, 5.5, 6.0, 6.2];
        let kept: Vec<f64> = times
            .iter()
            .enumerate()
            .filter(|(i, &t)| s.keep(*i as u64, Some(t)))
            .map(|(_, &t)| t)
            .collect();
        assert_eq!(kept, vec![0.0, 5.0, 6.0]);
    }

    #[test]
    fn missing_paths_are_errors_not_aborts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("a.png"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let (inputs, errors) = discover(&[dir.path().to_owned(), dir.path().join("nope.mp4")]);
        let names: Vec<_> = inputs
            .iter()
            .map(|i| i.path.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, vec!["a.png", "b.jpg"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("nope.mp4"));
    }
}
