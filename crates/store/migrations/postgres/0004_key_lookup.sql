-- The coordinator holds only matched signals in memory; a new signal finds the stored signals it
-- shares a key with through this index.
CREATE INDEX coord_keys_pseudonym ON coord_keys (pseudonym);
