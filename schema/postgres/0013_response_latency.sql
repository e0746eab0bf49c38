-- Response latency as the caller or visitor feels it, one row per turn
-- (see schema/sqlite/0013_response_latency.sql). Test conversations are
-- never recorded; `day` is the business's local date.
CREATE TABLE response_latency (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    conversation_id TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('CHAT', 'VOICE')),
    mode            TEXT NOT NULL,
    ms              INTEGER NOT NULL CHECK (ms >= 0),
    day             TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX response_latency_day ON response_latency (business_id, day, channel, ms);
CREATE INDEX response_latency_all ON response_latency (day, channel, ms);
