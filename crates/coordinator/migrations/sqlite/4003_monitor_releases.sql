-- Every monitor table released, as it was returned (signaalnet_coordinator::monitor): published
-- counts, suppressed cells without a count, the method, period and policy version. No record,
-- signal or person is in it. The audit trail names each release by its (random) id.
CREATE TABLE coord_monitor_releases (
    release_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id     TEXT NOT NULL UNIQUE,
    released_at    BIGINT NOT NULL,
    purpose        TEXT NOT NULL,
    reader         TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    body           TEXT NOT NULL
);
