-- Case consultations (docs/DESIGN §6b, signaalnet_coordinator::consult): a partner with a signal
-- in a hit asks the other partners of the hit for a consultation; each answers. Only ids, codes
-- and partner ids: no case data, no signal, no pseudonym. `request_key` is the node's key for
-- the request (from the partner's idempotency key), so a retried request is answered as the
-- first. Deleted with the hit when it ends (the audit trail keeps the steps).
CREATE TABLE coord_consultations (
    consultation_id TEXT PRIMARY KEY,
    hit_id          TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    requester       TEXT NOT NULL,
    request_key     TEXT NOT NULL,
    reason          INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (requester, request_key)
);
CREATE INDEX coord_consultations_hit ON coord_consultations (hit_id, requester);
-- One row per partner a request was sent to; `answer` 0 while it has not answered (the
-- ConsultationAnswer and DeclineReason numbers of the proto otherwise).
CREATE TABLE coord_consultation_answers (
    consultation_id TEXT NOT NULL,
    partner_id      TEXT NOT NULL,
    answer          INTEGER NOT NULL DEFAULT 0,
    decline_reason  INTEGER NOT NULL DEFAULT 0,
    answered_at     BIGINT,
    PRIMARY KEY (consultation_id, partner_id)
);
-- A notice about a consultation names it: a notice that signals left a hit replaces the hit's
-- earlier notices still queued, but not its consultation notices.
ALTER TABLE coord_notifications ADD COLUMN consultation_id TEXT;
