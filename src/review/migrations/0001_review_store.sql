-- The shared review store: every table lookout keeps in PostgreSQL.
-- Migrations are applied in order by `lookout store migrate` (and by any
-- lookout that connects to an older schema); an applied migration is never
-- edited: a change is a new file.

-- One row per run folder whose events are in the store.
CREATE TABLE lookout.runs (
    run_id      TEXT PRIMARY KEY,
    -- When the run started (run.json's started_at): tells two runs that
    -- were given the same id apart.
    started_at  TEXT NOT NULL,
    mode        TEXT NOT NULL,
    -- The run folder as the worker that wrote it saw it.
    dir         TEXT NOT NULL,
    registered  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per closed event: what the review list shows, the sha256 of
-- its event.json (verify compares it with the run folder), and the record.
CREATE TABLE lookout.events (
    run_id      TEXT NOT NULL REFERENCES lookout.runs ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    signature   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    count       BIGINT NOT NULL,
    peak_count  BIGINT NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    source      TEXT NOT NULL,
    start_s     DOUBLE PRECISION,
    end_s       DOUBLE PRECISION,
    -- The annotated frame, relative to the run folder.
    annotated   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    record      JSONB NOT NULL,
    PRIMARY KEY (run_id, event_id)
);
CREATE INDEX events_start ON lookout.events (start_s, run_id, event_id);

-- The audit log of each run: append-only and chained, as review.sqlite's
-- (see src/review/db.rs for the hash).
CREATE TABLE lookout.audit (
    run_id      TEXT NOT NULL REFERENCES lookout.runs,
    seq         BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    at          TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    note        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Each event's latest audit row, so that listing is one join.
CREATE TABLE lookout.verdicts (
    run_id      TEXT NOT NULL REFERENCES lookout.runs,
    event_id    TEXT NOT NULL,
    status      TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    at          TEXT NOT NULL,
    note        TEXT NOT NULL,
    audit_seq   BIGINT NOT NULL,
    PRIMARY KEY (run_id, event_id)
);

-- Each run's audit log head, signed by the reviewer's server.
CREATE TABLE lookout.seals (
    run_id      TEXT PRIMARY KEY REFERENCES lookout.runs,
    entries     BIGINT NOT NULL,
    head        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    signature   TEXT NOT NULL
);
