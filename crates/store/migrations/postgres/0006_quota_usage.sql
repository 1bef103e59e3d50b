-- Probing limits (policy `limits` / `[share.bulk]`): the identifiers each partner had taken
-- per purpose and minute, so the sliding 24-hour quota survives a restart. Each role that
-- enforces quotas keeps its own count in its own database; rows older than the window are
-- deleted whenever quota is taken (signaalnet_service::quota).
CREATE TABLE quota_usage (
    partner_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    bucket      BIGINT NOT NULL,
    identifiers BIGINT NOT NULL,
    PRIMARY KEY (partner_id, purpose, bucket)
);
CREATE INDEX quota_usage_bucket ON quota_usage (bucket);
