-- Tables for the store's own tests only (SQLite): an identity column, a byte column.
CREATE TABLE test_rows (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE test_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
