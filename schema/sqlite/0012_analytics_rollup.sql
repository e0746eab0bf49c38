-- Analytics counted as events arrive, so the analytics page reads a few
-- thousand rows however busy the business is. Conversations per channel and
-- UTC quarter hour (every time zone's offset is whole quarter hours, so a
-- bucket lies in one local day and hour); questions per UTC day and text.
-- Kept by triggers on analytics_events; the events stay the record.
CREATE TABLE analytics_rollup (
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,                 -- '' when the event had none
    bucket      TEXT NOT NULL,                 -- 'YYYY-MM-DDTHH:MM' (quarter hour) or 'YYYY-MM-DD' (questions)
    question    TEXT NOT NULL,                 -- '' for conversations
    first_at    TEXT NOT NULL,                 -- the earliest event counted here
    count       INTEGER NOT NULL,
    PRIMARY KEY (business_id, kind, bucket, channel, question)
) WITHOUT ROWID;

CREATE TRIGGER analytics_rollup_add AFTER INSERT ON analytics_events
WHEN NEW.kind IN ('conversation_started', 'knowledge_answered', 'knowledge_unanswered')
BEGIN
    INSERT INTO analytics_rollup (business_id, kind, channel, bucket, question, first_at, count)
    VALUES (
        NEW.business_id,
        NEW.kind,
        COALESCE(NEW.channel, ''),
        CASE WHEN NEW.kind = 'conversation_started'
             THEN substr(NEW.created_at, 1, 14) || printf('%02d', CAST(substr(NEW.created_at, 15, 2) AS INTEGER) / 15 * 15)
             ELSE substr(NEW.created_at, 1, 10) END,
        CASE WHEN NEW.kind = 'conversation_started' OR NOT json_valid(NEW.data) THEN ''
             ELSE COALESCE(CAST(json_extract(NEW.data, '$.question') AS TEXT), '') END,
        NEW.created_at,
        1
    )
    ON CONFLICT (business_id, kind, bucket, channel, question)
    DO UPDATE SET count = count + 1, first_at = MIN(first_at, excluded.first_at);
END;

CREATE TRIGGER analytics_rollup_remove AFTER DELETE ON analytics_events
WHEN OLD.kind IN ('conversation_started', 'knowledge_answered', 'knowledge_unanswered')
BEGIN
    UPDATE analytics_rollup SET count = count - 1
    WHERE business_id = OLD.business_id AND kind = OLD.kind AND channel = COALESCE(OLD.channel, '')
      AND bucket = CASE WHEN OLD.kind = 'conversation_started'
             THEN substr(OLD.created_at, 1, 14) || printf('%02d', CAST(substr(OLD.created_at, 15, 2) AS INTEGER) / 15 * 15)
             ELSE substr(OLD.created_at, 1, 10) END
      AND question = CASE WHEN OLD.kind = 'conversation_started' OR NOT json_valid(OLD.data) THEN ''
             ELSE COALESCE(CAST(json_extract(OLD.data, '$.question') AS TEXT), '') END;
END;

-- The events recorded before this migration.
INSERT INTO analytics_rollup (business_id, kind, channel, bucket, question, first_at, count)
SELECT business_id, kind, channel, bucket, question, MIN(created_at), COUNT(*)
FROM (
    SELECT business_id, kind, COALESCE(channel, '') AS channel, created_at,
        CASE WHEN kind = 'conversation_started'
             THEN substr(created_at, 1, 14) || printf('%02d', CAST(substr(created_at, 15, 2) AS INTEGER) / 15 * 15)
             ELSE substr(created_at, 1, 10) END AS bucket,
        CASE WHEN kind = 'conversation_started' OR NOT json_valid(data) THEN ''
             ELSE COALESCE(CAST(json_extract(data, '$.question') AS TEXT), '') END AS question
    FROM analytics_events
    WHERE kind IN ('conversation_started', 'knowledge_answered', 'knowledge_unanswered')
)
GROUP BY business_id, kind, bucket, channel, question;
