-- The coordinator pins each transcryptor's reshuffle commitment per matching domain the first
-- time it fetches it: a transcryptor that later answers another commitment for a domain (other
-- secrets, or another answer to another replica) is refused, not silently trusted.
-- `commitments` is the hex of the 32-byte commitments of every transcryptor, in chain order.
CREATE TABLE coord_commitments (
    domain      TEXT PRIMARY KEY,
    commitments TEXT NOT NULL
);
