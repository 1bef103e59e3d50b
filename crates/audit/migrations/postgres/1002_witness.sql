-- Witnessing (crates/audit, witness.rs), PostgreSQL dialect. A role sends its newest signed checkpoint
-- to witnesses run by other organisations; each keeps what it accepted, countersigned, so that
-- the role's operator cannot cut off or rewrite the end of the trail unnoticed.

-- What this role, as a witness, accepted from other roles: one row per checkpoint, by the
-- caller's OIN (from its certificate). Rows are only added: a lower seq, another hash at a held
-- seq, or another key without a reason is refused.
CREATE TABLE audit_witnessed (
    oin               TEXT NOT NULL,
    seq               BIGINT NOT NULL,
    hash              TEXT NOT NULL,
    at_ms             BIGINT NOT NULL,
    key_id            TEXT NOT NULL,
    signature         TEXT NOT NULL,
    public_key        TEXT NOT NULL,
    key_change_reason TEXT NOT NULL,
    witnessed_at_ms   BIGINT NOT NULL,
    witness_oin       TEXT NOT NULL,
    witness_key_id    TEXT NOT NULL,
    countersignature  TEXT NOT NULL,
    PRIMARY KEY (oin, seq)
);

-- The receipts this role got for its own checkpoints, by witness (its URL as configured).
CREATE TABLE audit_witness_receipts (
    witness          TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    hash             TEXT NOT NULL,
    at_ms            BIGINT NOT NULL,
    witnessed_at_ms  BIGINT NOT NULL,
    witness_oin      TEXT NOT NULL,
    witness_key_id   TEXT NOT NULL,
    countersignature TEXT NOT NULL,
    PRIMARY KEY (witness, seq)
);
