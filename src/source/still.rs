//! Still images (JPEG, PNG, WebP, BMP): a stream of exactly one frame.
//! TIFFs, and images with world files, are rasters ([`super::raster`]).

use std::path::{Path, PathBuf};

use super::telemetry::{Placed, Placer};
use super::{InputKind, OpenOptions, Source, SourceError, SourceInfo};
use crate::frame::{Frame, FrameMeta};

pub struct StillSource {
    info: SourceInfo,
    path: PathBuf,
    source_id: usize,
    done: bool,
    /// Places the image from its EXIF/XMP (a DJI still), when it has them.
    placer: Placer,
}

impl StillSource {
    /// Reads only the header here; pixels are decoded by `next_frame`, so a
    /// truncated file fails there with its path.
    pub fn open(
        path: &Path,
        source_id: usize,
        options: &OpenOptions,
    ) -> Result<StillSource, SourceError> {
        let reader = image::ImageReader::open(path)
            .map_err(|source| SourceError::Io {
                path: path.to_owned(),
                source,
            })?
            .with_guessed_format()
            .map_err(|source| SourceError::Io {
                path: path.to_owned(),
                source,
            })?;
        if reader.format().is_none() {
            return Err(SourceError::NotMedia {
                path: path.to_owned(),
                message: "unrecognised image format".into(),
            });
        }
        let (width, height) = reader.into_dimensions().map_err(|e| SourceError::Image {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let info = SourceInfo {
            uri: path.display().to_string(),
            kind: InputKind::Image,
            width,
            height,
            fps: None,
            frames_hint: Some(1),
            duration_s: None,
            codec: None,
            raster: None,
            telemetry: None,
        };
        let placer = Placer::for_still(path, options.telemetry.as_deref(), &options.geo);
        let info = SourceInfo {
            telemetry: serde_json::to_value(&placer.info).ok(),
            ..info
        };
        Ok(StillSource {
            info,
            path: path.to_owned(),
            source_id,
            done: false,
            placer,
        })
    }
}

impl Source for StillSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        let image = image::ImageReader::open(&self.path)
            .map_err(|source| SourceError::Io {
                path: self.path.clone(),
                source,
            })?
            .with_guessed_format()
            .map_err(|source| SourceError::Io {
                path: self.path.clone(),
                source,
            })?
            .decode()
            .map_err(|e| SourceError::Image {
                path: self.path.clone(),
                message: e.to_string(),
            })?
            .into_rgb8();
        let Placed {
            ground,
            unplaced,
            gsd_m_per_px,
        } = self
            .placer
            .place_frame(None, None, image.width(), image.height());
        let meta = FrameMeta {
            source_id: self.source_id,
            seq: 0,
            frame_index: 0,
            pts_s: None,
            width: image.width(),
            height: image.height(),
            gsd_m_per_px,
            ground,
            unplaced,
        };
        Ok(Some(Frame::whole(meta, image)))
    }
}
