//! The store sink: with a shared review store (`--store postgres://…`),
//! each event goes into it as soon as its evidence is written, so that
//! reviewers on other machines see it while the run goes on.
//!
//! It reads back the `event.json` the evidence sink just wrote (sinks run
//! in order, and this one comes after it), so the store holds exactly what
//! the run folder holds, with the same sha256. A write is one transaction
//! and is idempotent: a worker killed in the middle of one leaves nothing
//! half-written, and the resume that follows writes the event again.

use std::sync::Arc;
use std::time::Duration;

use super::{Screened, SharedRun, Sink, SinkError};
use crate::event::Step;
use crate::review::pg::PgStore;
use crate::review::store::StoredEvent;

/// Tries at a failed write before the run fails: a database restarting
/// or failing over should not end a long batch.
const ATTEMPTS: u32 = 4;

pub struct StoreSink {
    run: SharedRun,
    run_id: String,
    store: Arc<PgStore>,
}

impl StoreSink {
    pub fn new(run: SharedRun, run_id: String, store: Arc<PgStore>) -> StoreSink {
        StoreSink { run, run_id, store }
    }
}

impl Sink<Screened<'_>> for StoreSink {
    fn accept(&mut self, item: &Screened<'_>) -> Result<(), SinkError> {
        let Screened::Events { updates, .. } = item else {
            return Ok(());
        };
        let dir = self.run.lock().dir().to_owned();
        for u in updates.iter().filter(|u| u.step == Step::Close) {
            let event = StoredEvent::read(&dir, &u.event.id).map_err(|e| {
                SinkError::Store(crate::review::db::ReviewError::Invalid(e.to_string()))
            })?;
            let mut attempt = 1;
            loop {
                match self.store.publish(&self.run_id, &event) {
                    Ok(()) => break,
                    Err(e) if attempt < ATTEMPTS => {
                        tracing::warn!("event {}: {e}; trying again", event.event_id);
                        std::thread::sleep(Duration::from_millis(500 << attempt));
                        attempt += 1;
                    }
                    Err(e) => return Err(SinkError::Store(e)),
                }
            }
        }
        Ok(())
    }
}
