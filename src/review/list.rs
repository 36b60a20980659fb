//! The review list: its rows, whichever store they come from, and the
//! filters, sort and page of `GET /api/events`. `serve` with SQLite lists
//! the rows it holds in memory with [`list`]; the PostgreSQL store runs the
//! same query in SQL (`super::pg`), and its tests hold the two to the same
//! order.

use serde::{Deserialize, Serialize};

/// An event as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub run: String,
    pub id: String,
    pub signature: String,
    pub kind: String,
    pub count: u64,
    pub peak_count: u64,
    pub score: f64,
    pub source: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    pub status: String,
    pub reviewer: String,
    /// A small copy of the annotated frame.
    pub thumb: String,
    /// How the event's run stands (see [`RunState`]).
    pub run_state: RunState,
    /// Why the run is tampered or unfinished; empty when verified.
    pub run_problem: String,
}

/// How a run stands, as its checks found it when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Sealed, and every file, the chain, the seal and the review record
    /// hold, by a trusted key.
    Verified,
    /// Sealed (or finished), and something does not hold.
    Tampered,
    /// Never sealed because it is still running or was killed, or it
    /// failed.
    Unfinished,
}

/// The list's filters, sort and page, from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub signature: Option<String>,
    pub source: Option<String>,
    pub run: Option<String>,
    pub kind: Option<String>,
    pub min_count: Option<u64>,
    pub min_score: Option<f64>,
    pub sort: Option<String>,
    pub desc: Option<bool>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
}

/// Filters, sorts and pages the event list.
pub fn list(events: &[EventRow], q: &ListQuery) -> (usize, Vec<EventRow>) {
    let eq =
        |want: &Option<String>, v: &str| want.as_deref().is_none_or(|w| w.is_empty() || w == v);
    let mut hits: Vec<&EventRow> = events
        .iter()
        .filter(|e| {
            eq(&q.status, &e.status)
                && eq(&q.signature, &e.signature)
                && eq(&q.source, &e.source)
                && eq(&q.run, &e.run)
                && eq(&q.kind, &e.kind)
                && q.min_count.is_none_or(|m| e.peak_count >= m)
                && q.min_score.is_none_or(|m| e.score >= m)
        })
        .collect();
    let key = q.sort.as_deref().unwrap_or("time");
    let f = |a: &f64, b: &f64| a.total_cmp(b);
    hits.sort_by(|a, b| {
        let o = match key {
            "signature" => a.signature.cmp(&b.signature),
            "count" => a.peak_count.cmp(&b.peak_count),
            "score" => f(&a.score, &b.score),
            "source" => a.source.cmp(&b.source),
            "status" => a.status.cmp(&b.status),
            "run" => a.run.cmp(&b.run),
            _ => f(&a.start_s.unwrap_or(0.0), &b.start_s.unwrap_or(0.0)),
        };
        o.then_with(|| (&a.run, &a.id).cmp(&(&b.run, &b.id)))
    });
    if q.desc.unwrap_or(false) {
        hits.reverse();
    }
    let total = hits.len();
    let offset = q.offset.unwrap_or(0).min(total);
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    (
        total,
        hits[offset..(offset + limit).min(total)]
            .iter()
            .map(|e| (*e).clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: &str, score: f64, start: f64) -> EventRow {
        EventRow {
            run: "r".into(),
            id: id.into(),
            signature: "s".into(),
            kind: "zone".into(),
            count: 1,
            peak_count: 1,
            score,
            source: "a.mp4".into(),
            start_s: Some(start),
            end_s: None,
            status: status.into(),
            reviewer: String::new(),
            thumb: String::new(),
            run_state: RunState::Verified,
            run_problem: String::new(),
        }
    }

    #[test]
    fn listing_filters_sorts_and_pages_twenty_thousand_events() {
        let events: Vec<EventRow> = (0..20_000)
            .map(|i| {
                row(
                    &format!("e{i:05}"),
                    if i % 4 == 0 { "confirmed" } else { "new" },
                    (i % 97) as f64 / 97.0,
                    i as f64,
                )
            })
            .collect();
        let q = |s: &str| -> ListQuery { serde_json::from_str(s).unwrap() };
        let (total, page) = list(
            &events,
            &q(
                r#"{"status": "confirmed", "sort": "score", "desc": true, "offset": 10, "limit": 20}"#,
            ),
        );
        assert_eq!(total, 5000);
        assert_eq!(page.len(), 20);
        assert!(page.iter().all(|e| e.status == "confirmed"));
        assert!(page.windows(2).all(|w| w[0].score >= w[1].score));
        let (total, page) = list(&events, &q(r#"{"offset": 19990}"#));
        assert_eq!((total, page.len()), (20_000, 10));
        assert_eq!(page[0].id, "e19990", "time order");
        let (_, page) = list(&events, &q(r#"{"limit": 100000}"#));
        assert_eq!(page.len(), 500, "pages are capped");
    }
}
