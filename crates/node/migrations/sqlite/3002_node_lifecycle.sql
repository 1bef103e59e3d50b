-- What is left of a signal or a hit after it ended is kept for a while, then deleted
-- (signaalnet_node::expiry): `ended_at` is when a signal was withdrawn or expired, or when a
-- hit's DISSOLVED or EXPIRED notice arrived; a withdrawal request is kept for its idempotency
-- from `created_at`.
ALTER TABLE node_signals ADD COLUMN ended_at BIGINT;
CREATE INDEX node_signals_ended ON node_signals (ended_at);
ALTER TABLE node_hits ADD COLUMN ended_at BIGINT;
CREATE INDEX node_hits_hit ON node_hits (hit_id);
ALTER TABLE node_withdrawals ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
-- Withdrawal requests made before this migration are kept from now on, not purged at once.
UPDATE node_withdrawals SET created_at = CAST(strftime('%s', 'now') AS INTEGER);
