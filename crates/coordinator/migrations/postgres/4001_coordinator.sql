-- The coordinator's tables (crates/coordinator), PostgreSQL dialect. Nothing here holds a raw
-- identifier: the coordinator keeps matching-domain pseudonyms only.
-- There are no production databases yet: this file is the schema as it stands, folded from the
-- earlier shared migrations, not a history to replay. Changes from here on go in new files.

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
-- Retention looks for signals of a purpose received before a cut-off.
CREATE INDEX coord_signals_retention ON coord_signals (purpose, received_at);

CREATE TABLE coord_keys (
    seq       BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    pseudonym BYTEA NOT NULL,
    PRIMARY KEY (seq, kind, pseudonym)
);
-- Only matched signals are held in memory; a new signal finds the stored signals it shares a
-- key with through this index.
CREATE INDEX coord_keys_pseudonym ON coord_keys (pseudonym);

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

-- Each transcryptor's reshuffle commitment per matching domain, pinned the first time the
-- coordinator fetches it: a transcryptor that later answers another commitment for a domain
-- (other secrets, or another answer to another replica) is refused, not silently trusted.
-- `commitments` is the hex of the 32-byte commitments of every transcryptor, in chain order.
CREATE TABLE coord_commitments (
    domain      TEXT PRIMARY KEY,
    commitments TEXT NOT NULL
);
