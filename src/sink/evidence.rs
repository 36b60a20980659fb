//! The evidence sink: every event step into `events.jsonl`, and at close
//! the best frame (untouched and annotated) and `event.json`, through the
//! run folder's writer (see [`crate::evidence::events`]).

use std::collections::HashMap;

use super::{Screened, SharedRun, Sink, SinkError};
use crate::evidence::events::EventContext;

/// Records events into the run folder.
pub struct EvidenceSink {
    run: SharedRun,
    context: EventContext,
    /// Streams whose signatures differ from the run's (a `watch` feed with
    /// its own signature choice or overrides).
    per_stream: HashMap<usize, EventContext>,
}

impl EvidenceSink {
    /// `context`: what every event record repeats about the run.
    pub fn new(run: SharedRun, context: EventContext) -> EvidenceSink {
        EvidenceSink {
            run,
            context,
            per_stream: HashMap::new(),
        }
    }

    /// Stream `id` records its events with `context` instead.
    pub fn with_stream_context(mut self, id: usize, context: EventContext) -> EvidenceSink {
        self.per_stream.insert(id, context);
        self
    }
}

impl Sink<Screened<'_>> for EvidenceSink {
    fn accept(&mut self, item: &Screened<'_>) -> Result<(), SinkError> {
        let Screened::Events {
            stream, updates, ..
        } = item
        else {
            return Ok(());
        };
        if updates.is_empty() {
            return Ok(());
        }
        let context = self.per_stream.get(&stream.id).unwrap_or(&self.context);
        context.record_all(&mut self.run.lock(), updates, &stream.path)?;
        Ok(())
    }
}
