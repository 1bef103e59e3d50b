-- The retentions of every purpose a role has held data for, as the policy set last gave them
-- (signaalnet_service::retention). A purpose removed from the policy set still has signals,
-- hits and notifications stored under it: they expire under the last retention it had, so
-- removing a purpose never keeps its data forever.
CREATE TABLE purpose_retention (
    purpose             TEXT PRIMARY KEY,
    retention_unmatched TEXT NOT NULL,
    retention_hits      TEXT NOT NULL,
    policy_version      TEXT NOT NULL
);
