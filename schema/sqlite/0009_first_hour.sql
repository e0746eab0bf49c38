-- The owner's first hour: the business's facts (hours, area, prices, about),
-- test conversations and leads (never alerted, deletable), the owner's notes
-- on a lead, where the chat widget was first seen on the business's own site,
-- and emails kept on this server (no SMTP) counted apart from delivered ones.
CREATE TABLE business_facts (
    business_id TEXT PRIMARY KEY REFERENCES businesses (id) ON DELETE CASCADE,
    facts       TEXT NOT NULL,             -- JSON of domain::BusinessFacts
    updated_at  TEXT NOT NULL
);

ALTER TABLE conversations ADD COLUMN is_test INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN is_test INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN owner_notes TEXT;
ALTER TABLE businesses ADD COLUMN widget_seen_origin TEXT;
ALTER TABLE businesses ADD COLUMN widget_seen_at TEXT;

-- The outbox gains the state 'kept' (an email kept on this server, not sent):
-- SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE notifications_new (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    lead_id         TEXT REFERENCES leads (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL,             -- new_lead, urgent_lead, urgent_update, call_ended, digest, test
    channel         TEXT NOT NULL,             -- email, sms, voice_call, webhook
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,             -- JSON
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'in_flight', 'sent', 'kept', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    lease_token     TEXT,
    lease_until     TEXT,
    sent_at         TEXT,
    provider_id     TEXT
);
INSERT INTO notifications_new (id, business_id, lead_id, kind, channel, recipient, payload, idempotency_key,
        state, attempts, next_attempt_at, last_error, created_at, updated_at, lease_token, lease_until,
        sent_at, provider_id)
    SELECT id, business_id, lead_id, kind, channel, recipient, payload, idempotency_key,
        CASE WHEN state = 'sent' AND id IN (SELECT notification_id FROM local_emails) THEN 'kept' ELSE state END,
        attempts, next_attempt_at, last_error, created_at, updated_at, lease_token, lease_until, sent_at, provider_id
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_channel_due ON notifications (channel, state, next_attempt_at);
CREATE INDEX notifications_business_state ON notifications (business_id, state, created_at);
CREATE INDEX notifications_lead ON notifications (lead_id);
-- The daily caps count a business's rows per channel over the last 24 hours.
CREATE INDEX notifications_business_channel ON notifications (business_id, channel, created_at);
