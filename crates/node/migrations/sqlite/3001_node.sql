-- The partner node's tables (crates/node), SQLite dialect. Nothing here holds a raw
-- identifier: the node keeps ciphertexts under the system key and keyed lookups (HMAC with a
-- node-local secret).
-- There are no production databases yet: this file is the schema as it stands, folded from the
-- earlier shared migrations, not a history to replay. Changes from here on go in new files.

-- `state` holds signaalnet_node::SignalState as text.
CREATE TABLE node_signals (
    signal_id        TEXT PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    request_mac      BLOB NOT NULL,
    case_reference   TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    state            TEXT NOT NULL,
    payload          BLOB NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT
);
CREATE INDEX node_signals_case ON node_signals (case_reference);
-- Retention looks for signals of a purpose created before a cut-off.
CREATE INDEX node_signals_retention ON node_signals (purpose, created_at);
-- The outbox is read in the order signals were accepted, a batch at a time, and due
-- withdrawals likewise: an index in that order lets a read stop after one batch instead of
-- sorting the whole backlog (with a million signals queued, every batch sorted all of them).
CREATE INDEX node_signals_outbox ON node_signals (state, created_at, signal_id);

CREATE TABLE node_signal_lookup (
    signal_id TEXT NOT NULL,
    lookup    BLOB NOT NULL,
    PRIMARY KEY (signal_id, lookup)
);
CREATE INDEX node_signal_lookup_by ON node_signal_lookup (lookup);

CREATE TABLE node_withdrawals (
    idempotency_key TEXT PRIMARY KEY,
    request_mac     BLOB NOT NULL,
    signal_ids      TEXT NOT NULL
);

CREATE TABLE node_hits (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    hit_id  TEXT NOT NULL,
    purpose TEXT NOT NULL,
    payload BLOB NOT NULL
);

CREATE TABLE node_signal_hits (
    signal_id TEXT NOT NULL,
    hit_id    TEXT NOT NULL,
    PRIMARY KEY (signal_id, hit_id)
);

CREATE TABLE node_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
