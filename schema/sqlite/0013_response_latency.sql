-- Response latency as the caller or visitor feels it, one row per turn:
-- chat, from the message received to the first token sent (or the whole
-- reply when it goes in one piece); realtime voice, from the end of the
-- caller's speech to the first audio frame sent to Twilio; gather voice,
-- from the webhook carrying the caller's words to its TwiML answer.
-- Test conversations are never recorded. `day` is the business's local
-- date when the reply was measured, so a day's median and p90 are an
-- ordered walk of one index range (no sort), however busy the business.
CREATE TABLE response_latency (
    id              INTEGER PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    conversation_id TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('CHAT', 'VOICE')),
    mode            TEXT NOT NULL,               -- chat, chat_stream, realtime, gather
    ms              INTEGER NOT NULL CHECK (ms >= 0),
    day             TEXT NOT NULL,               -- YYYY-MM-DD, the business's time zone
    created_at      TEXT NOT NULL
);
-- A day's replies in order of latency; the period's; every business's day.
CREATE INDEX response_latency_day ON response_latency (business_id, channel, day, ms);
CREATE INDEX response_latency_ms ON response_latency (business_id, channel, ms, day);
CREATE INDEX response_latency_all ON response_latency (channel, day, ms);
