-- The monitor's own records (signaalnet_coordinator::monitor::ledger): for each signal a partner
-- shares for a monitor purpose, what the monitor counts of it, kept under the monitor purpose's
-- retention rather than the signal's, so a year's figures hold after its signals expired. No
-- identifier, pseudonym, signal id or case reference: the partner, the record's noise key, a
-- keyed hash of the signal id (a withdrawal finds its record by it and deletes it), and the
-- observed month and attributes the partner shares for the monitor.
CREATE TABLE coord_monitor_records (
    record_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor        TEXT NOT NULL,
    partner_id     TEXT NOT NULL,
    lookup         TEXT NOT NULL,
    record_key     BIGINT NOT NULL,
    observed_month TEXT NOT NULL,
    attributes     TEXT NOT NULL,
    received_at    BIGINT NOT NULL
);
CREATE INDEX coord_monitor_records_counted ON coord_monitor_records (monitor, received_at);
CREATE INDEX coord_monitor_records_lookup ON coord_monitor_records (lookup);
