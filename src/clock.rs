//! Wall-clock time as records write it.

/// Now, in UTC, as RFC 3339 (`2026-11-28T13:05:01.123456789Z`).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A run id from the UTC time (`20261128T130501Z`), with `-2`, `-3`, …
/// added when a folder of that name is already in `out`.
pub fn run_id_now(out: &std::path::Path) -> String {
    let base = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|id| !out.join(id).exists())
        .expect("some suffix is free")
}
