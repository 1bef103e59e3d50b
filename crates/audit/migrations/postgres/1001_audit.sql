-- The audit trail of a role (crates/audit), PostgreSQL dialect: one row per processing step,
-- chained by SHA-256 (each row carries the hash of the row before it), and signed checkpoints
-- (Ed25519) over the hash of an entry. Same text in both dialects: hashes and signatures are
-- stored as hex. Nothing here is a raw identifier: references are signal ids, hit ids, purposes
-- and OINs. Every role keeps its own trail in its own database.
-- There are no production databases yet: this file is the schema as it stands, folded from the
-- earlier shared migrations, not a history to replay. Changes from here on go in new files.

CREATE TABLE audit_entries (
    seq                 BIGINT PRIMARY KEY,
    at_ms               BIGINT NOT NULL,
    step                TEXT NOT NULL,
    actor_oin           TEXT NOT NULL,
    actor_role          TEXT NOT NULL,
    purpose             TEXT NOT NULL,
    processing_activity TEXT NOT NULL,
    policy_version      TEXT NOT NULL,
    refs                TEXT NOT NULL,
    detail              TEXT NOT NULL,
    prev_hash           TEXT NOT NULL,
    hash                TEXT NOT NULL
);
CREATE INDEX audit_entries_at ON audit_entries (at_ms);

CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      TEXT NOT NULL,
    at_ms     BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL
);
