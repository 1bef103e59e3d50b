-- Every monitor table released, as it was returned (signaalnet_coordinator::monitor): published
-- counts, suppressed cells without a count, the method, period and policy version. No record,
-- signal or person is in it. The audit trail names each release by its id (the SHA-256 of the
-- table); the same table asked twice is two releases with one id.
CREATE TABLE coord_monitor_releases (
    release_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id     TEXT NOT NULL,
    released_at    BIGINT NOT NULL,
    purpose        TEXT NOT NULL,
    reader         TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX coord_monitor_releases_id ON coord_monitor_releases (release_id);
