-- What is left of a signal or a hit after it ended is kept for a while, then deleted
-- (signaalnet_coordinator::expiry). A notification names its hit, so that a later notice to the
-- same partner that drops signals from the hit replaces the earlier ones still queued; the
-- notice that a hit ended (DISSOLVED, EXPIRED) has `ended_at`.
ALTER TABLE coord_notifications ADD COLUMN hit_id TEXT NOT NULL DEFAULT '';
ALTER TABLE coord_notifications ADD COLUMN ended_at BIGINT;
CREATE INDEX coord_notifications_hit ON coord_notifications (partner_id, hit_id);
CREATE INDEX coord_notifications_ended ON coord_notifications (ended_at);
-- Tombstones (withdrawn or expired signals) are found by when they ended.
CREATE INDEX coord_signals_withdrawn ON coord_signals (withdrawn_at);
CREATE INDEX coord_hits_dissolved ON coord_hits (dissolved_at);
