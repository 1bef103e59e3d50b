-- Probing limits (policy `limits` / `[share.bulk]`), PostgreSQL dialect: the identifiers each
-- partner had taken per purpose and minute, so the sliding 24-hour quota survives a restart.
-- Each role that enforces quotas (node, transcryptor, coordinator) keeps its own count in its
-- own database; rows older than the window are deleted whenever quota is taken
-- (signaalnet_service::quota).
-- There are no production databases yet: this file is the schema as it stands, folded from the
-- earlier shared migrations, not a history to replay. Changes from here on go in new files.

CREATE TABLE quota_usage (
    partner_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    bucket      BIGINT NOT NULL,
    identifiers BIGINT NOT NULL,
    PRIMARY KEY (partner_id, purpose, bucket)
);
CREATE INDEX quota_usage_bucket ON quota_usage (bucket);
