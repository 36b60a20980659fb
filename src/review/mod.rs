//! Human review: `lookout serve` (a local web UI for verdicts) and the
//! review record each run keeps (`review.sqlite`, chained and signed).

pub mod db;
pub mod server;
