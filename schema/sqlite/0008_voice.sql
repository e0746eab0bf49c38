-- Phone calls: how each was answered and how it ended, every status Twilio
-- reported (callbacks can arrive out of order; SequenceNumber sorts them),
-- and a fast way from a CallSid to its conversation.
ALTER TABLE calls ADD COLUMN mode TEXT;              -- realtime, gather, or NULL when the agent never answered
ALTER TABLE calls ADD COLUMN ended_reason TEXT;      -- caller_hung_up, agent_hung_up, transferred, voicemail, fallback, busy, not_on_plan
ALTER TABLE calls ADD COLUMN ended_at TEXT;

CREATE TABLE call_events (
    id         INTEGER PRIMARY KEY,
    call_sid   TEXT NOT NULL,
    status     TEXT NOT NULL,
    sequence   INTEGER,
    data       TEXT NOT NULL DEFAULT '{}',           -- the callback's parameters, JSON
    created_at TEXT NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_sid, id);

CREATE INDEX conversations_external ON conversations (external_id);
