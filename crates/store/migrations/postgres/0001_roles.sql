-- signaalnet schema, PostgreSQL dialect. Each role opens its own database file and uses only its own
-- tables (node_*, coord_*). Nothing here holds a raw identifier: the node keeps ciphertexts under
-- the system key and keyed lookups (HMAC with a node-local secret); the coordinator keeps
-- matching-domain pseudonyms only.

CREATE TABLE node_signals (
    signal_id        TEXT PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    request_mac      BYTEA NOT NULL,
    case_reference   TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    state            TEXT NOT NULL,
    payload          BYTEA NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT
);
CREATE INDEX node_signals_due ON node_signals (state, next_attempt_at);
CREATE INDEX node_signals_case ON node_signals (case_reference);

CREATE TABLE node_signal_lookup (
    signal_id TEXT NOT NULL,
    lookup    BYTEA NOT NULL,
    PRIMARY KEY (signal_id, lookup)
);
CREATE INDEX node_signal_lookup_by ON node_signal_lookup (lookup);

CREATE TABLE node_withdrawals (
    idempotency_key TEXT PRIMARY KEY,
    request_mac     BYTEA NOT NULL,
    signal_ids      TEXT NOT NULL
);

CREATE TABLE node_hits (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hit_id  TEXT NOT NULL,
    purpose TEXT NOT NULL,
    payload BYTEA NOT NULL
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

CREATE TABLE coord_signals (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id     TEXT NOT NULL,
    signal_id      TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    observed_month TEXT NOT NULL,
    attributes     TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    received_at    BIGINT NOT NULL,
    withdrawn_at   BIGINT,
    UNIQUE (partner_id, signal_id)
);

CREATE TABLE coord_keys (
    seq       BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    pseudonym BYTEA NOT NULL,
    PRIMARY KEY (seq, kind, pseudonym)
);

CREATE TABLE coord_hits (
    hit_id       TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    members      TEXT NOT NULL,
    formed_month TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    dissolved_at BIGINT
);

CREATE TABLE coord_notifications (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX coord_notifications_partner ON coord_notifications (partner_id, seq);
