-- Tables for the store's own tests only (PostgreSQL): an identity column, a byte column.
CREATE TABLE test_rows (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE test_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
