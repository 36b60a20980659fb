//! Human review: `lookout serve` (a local web UI for verdicts), the
//! review record each run keeps (`review.sqlite`, chained and signed), and
//! `lookout verify`'s check of a run with its review record.
//!
//! Review sits on the evidence: it reads run folders and their records
//! (`crate::evidence`), which never read it back.

pub mod db;
pub mod list;
pub mod pg;
pub mod pgtls;
pub mod server;
pub mod store;
pub mod verify;
