-- The notifications outbox worker's bookkeeping and the owner's preferences.
--
-- In-flight rows carry a lease (a random token and an expiry) so two loops
-- never deliver the same row and a finished delivery only updates the row it
-- claimed; sent rows keep when they went and the provider's id (SMS or call
-- SID, the email's Message-ID, the webhook's HTTP status).
ALTER TABLE notifications ADD COLUMN lease_token TEXT;
ALTER TABLE notifications ADD COLUMN lease_until TEXT;
ALTER TABLE notifications ADD COLUMN sent_at TEXT;
ALTER TABLE notifications ADD COLUMN provider_id TEXT;
CREATE INDEX notifications_channel_due ON notifications (channel, state, next_attempt_at);
CREATE INDEX notifications_business_state ON notifications (business_id, state, created_at);
CREATE INDEX notifications_lead ON notifications (lead_id);

-- Which events reach the owner on which channel, the daily digest and its
-- hour (JSON of domain::NotificationPrefs; no row: the defaults).
CREATE TABLE notification_prefs (
    business_id TEXT PRIMARY KEY REFERENCES businesses (id) ON DELETE CASCADE,
    prefs       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Emails "sent" with no SMTP server configured: kept here for the UI, so the
-- embedded default works end to end. One per notification.
CREATE TABLE local_emails (
    id              INTEGER PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    notification_id TEXT NOT NULL UNIQUE,
    message_id      TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX local_emails_business ON local_emails (business_id, id);
