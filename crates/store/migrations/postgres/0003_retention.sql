-- Retention: the coordinator looks for signals of a purpose received before a cut-off, the node
-- for signals created before one.
CREATE INDEX coord_signals_retention ON coord_signals (purpose, received_at);
CREATE INDEX node_signals_retention ON node_signals (purpose, created_at);
