-- The writer fence (signaalnet_coordinator::fence): one row, whose epoch goes up each time a
-- coordinator process takes over the database. Every write transaction of the coordinator
-- reads it and rolls back when the epoch is no longer the one it took over with.
CREATE TABLE coord_fence (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT NOT NULL,
    holder TEXT NOT NULL,
    since  BIGINT NOT NULL
);
