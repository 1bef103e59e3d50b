-- The node's outbox is read in the order signals were accepted, a batch at a time, and due
-- withdrawals likewise: an index in that order lets a read stop after one batch instead of
-- sorting the whole backlog (with a million signals queued, every batch sorted all of them).
DROP INDEX node_signals_due;
CREATE INDEX node_signals_outbox ON node_signals (state, created_at, signal_id);
