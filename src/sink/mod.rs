//! Sinks: where the results of screening go. One contract, [`Sink`], and
//! one file per sink:
//!
//! - [`evidence`]: the run folder's `events.jsonl`, evidence frames and
//!   `event.json` (always on);
//! - [`geojson`]: `detections.geojson` and `events.geojson`, for
//!   georeferenced inputs;
//! - [`detections`]: `detections.jsonl`, every detection of every screened
//!   frame (`--save-detections`);
//! - [`alerts`]: JSON lines to stdout or files, and webhooks (`watch`);
//! - [`store`]: each closed event into the shared review store
//!   (`--store postgres://…`).
//!
//! Drivers (`crate::run`) hand every sink the same [`Screened`] items in
//! each stream's order: a frame's detections, then the event steps that
//! frame caused. Sinks that write into the run folder share its
//! [`RunWriter`] ([`SharedRun`]), so that every file they write is hashed
//! into the manifest and sealed with the run.
//!
//! **Adding a sink** is one new file here with a type that implements
//! `Sink<Screened<'_>>`, and one line where the run layer builds its sinks
//! (`run::Session::sinks`).
//!
//! The exports of `lookout export` ([`export`]) implement the same
//! contract over reviewed events read back from a run folder.

pub mod alerts;
pub mod detections;
pub mod evidence;
pub mod export;
pub mod geojson;
pub mod store;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::detect::Detection;
use crate::event::EventUpdate;
use crate::evidence::{EvidenceError, RunWriter};
use crate::frame::Frame;

/// Where a sink's items go, and what it does at the end.
pub trait Sink<I: ?Sized> {
    /// Takes one item. Items of one stream come in that stream's order.
    fn accept(&mut self, item: &I) -> Result<(), SinkError>;
    /// Called once, after the last item (and before the run is sealed).
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A screening sink, as drivers hold them.
pub type ScreenSink = Box<dyn for<'a> Sink<Screened<'a>> + Send>;

/// Hands one item to every sink, in order; the first failure stops it.
pub fn emit(sinks: &mut [ScreenSink], item: &Screened<'_>) -> Result<(), SinkError> {
    sinks.iter_mut().try_for_each(|s| s.accept(item))
}

/// One stream of a run: an input of `screen`, a feed of `watch`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRef {
    /// The input's index in the run (the feed's, for `watch`).
    pub id: usize,
    /// A short name: the feed's name, or the input's file name.
    pub name: String,
    /// The input's path, or the feed's address.
    pub path: PathBuf,
}

/// What screening produces.
pub enum Screened<'a> {
    /// A screened frame, or a raster scene with its windows merged, and
    /// its detections in source pixels. `tracks[i]` is the confirmed
    /// track that detection `i` belongs to, if any.
    Frame {
        stream: &'a StreamRef,
        frame: &'a Frame,
        detections: &'a [Detection],
        tracks: &'a [Option<u64>],
    },
    /// The event steps that one frame (or the end of the stream) caused.
    /// `arrived`: when that frame reached lookout, for a live alert's
    /// latency.
    Events {
        stream: &'a StreamRef,
        updates: &'a [EventUpdate],
        arrived: Option<Instant>,
    },
}

/// Why a sink failed. A failing sink fails the run: its output is part of
/// the record.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error("cannot open the alerts file {path}: {source}")]
    AlertsFile {
        path: String,
        source: std::io::Error,
    },
    #[error("webhook {url}: {message}")]
    Webhook { url: String, message: String },
    #[error(transparent)]
    Export(Box<export::ExportError>),
    #[error(
        "{0}; the events stay in the run folder, and `lookout store import` brings them in later"
    )]
    Store(crate::review::db::ReviewError),
}

/// The run folder, shared by the sinks that write into it.
#[derive(Clone)]
pub struct SharedRun(Arc<Mutex<RunWriter>>);

impl SharedRun {
    pub fn new(writer: RunWriter) -> SharedRun {
        SharedRun(Arc::new(Mutex::new(writer)))
    }

    /// The writer, for one write.
    pub fn lock(&self) -> MutexGuard<'_, RunWriter> {
        // A sink that panicked mid-write has already failed the run; what
        // it left is still worth sealing.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer back, once every sink has let go of it.
    pub fn into_inner(self) -> Option<RunWriter> {
        Arc::try_unwrap(self.0)
            .ok()
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
    }
}
