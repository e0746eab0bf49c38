-- Rollups for the analytics outcomes and reply latency, kept by triggers as
-- rows arrive, change or go, so a period reads a few thousand rollup rows
-- instead of every call, lead and reply (see schema/sqlite/0015 for why
-- they are keyed by UTC quarter hour, and reply latency by its recorded
-- local day and 64 ms). Every day is kept, today included.

-- 'YYYY-MM-DDTHH:MM' of the quarter hour a 'YYYY-MM-DDTHH:MM:SS.mmmZ' lies in.
CREATE FUNCTION quarter_hour(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS
$$ SELECT substr(t, 1, 14) || lpad(((substr(t, 15, 2)::int / 15) * 15)::text, 2, '0') $$;

CREATE TABLE call_rollup (
    business_id    TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    bucket         TEXT NOT NULL,
    calls          BIGINT NOT NULL,
    answered       BIGINT NOT NULL,
    agent_hung_up  BIGINT NOT NULL,
    caller_hung_up BIGINT NOT NULL,
    transferred    BIGINT NOT NULL,
    voicemail      BIGINT NOT NULL,
    seconds        BIGINT NOT NULL,
    timed          BIGINT NOT NULL,
    PRIMARY KEY (business_id, bucket)
);

-- The old row out (an UPDATE, never an insert: a business being deleted
-- may have lost its rollup rows already), the new row in.
CREATE FUNCTION call_rollup_keep() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.business_id IS NOT NULL THEN
            UPDATE call_rollup SET
                calls = calls - 1, answered = answered - (OLD.mode IS NOT NULL)::int,
                agent_hung_up = agent_hung_up - COALESCE(OLD.ended_reason = 'agent_hung_up', FALSE)::int,
                caller_hung_up = caller_hung_up - COALESCE(OLD.ended_reason = 'caller_hung_up', FALSE)::int,
                transferred = transferred - COALESCE(OLD.ended_reason = 'transferred', FALSE)::int,
                voicemail = voicemail - COALESCE(OLD.ended_reason = 'voicemail', FALSE)::int,
                seconds = seconds - COALESCE(OLD.duration_seconds, 0), timed = timed - (OLD.duration_seconds IS NOT NULL)::int
            WHERE business_id = OLD.business_id AND bucket = quarter_hour(OLD.started_at);
            DELETE FROM call_rollup WHERE business_id = OLD.business_id AND bucket = quarter_hour(OLD.started_at) AND calls = 0;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.business_id IS NOT NULL THEN
            INSERT INTO call_rollup AS r VALUES (
                NEW.business_id, quarter_hour(NEW.started_at), 1, (NEW.mode IS NOT NULL)::int,
                COALESCE(NEW.ended_reason = 'agent_hung_up', FALSE)::int,
                COALESCE(NEW.ended_reason = 'caller_hung_up', FALSE)::int,
                COALESCE(NEW.ended_reason = 'transferred', FALSE)::int,
                COALESCE(NEW.ended_reason = 'voicemail', FALSE)::int,
                COALESCE(NEW.duration_seconds, 0), (NEW.duration_seconds IS NOT NULL)::int)
            ON CONFLICT (business_id, bucket) DO UPDATE SET
                calls = r.calls + 1, answered = r.answered + excluded.answered,
                agent_hung_up = r.agent_hung_up + excluded.agent_hung_up,
                caller_hung_up = r.caller_hung_up + excluded.caller_hung_up,
                transferred = r.transferred + excluded.transferred, voicemail = r.voicemail + excluded.voicemail,
                seconds = r.seconds + excluded.seconds, timed = r.timed + excluded.timed;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER call_rollup_keep
AFTER INSERT OR DELETE OR UPDATE OF business_id, started_at, mode, ended_reason, duration_seconds ON calls
FOR EACH ROW EXECUTE FUNCTION call_rollup_keep();

-- Leads that are not tests: emergencies by level, and each status now.
CREATE TABLE lead_rollup (
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    bucket      TEXT NOT NULL,
    leads       BIGINT NOT NULL,
    urgent      BIGINT NOT NULL,
    high        BIGINT NOT NULL,
    status_new         BIGINT NOT NULL,
    status_contacted   BIGINT NOT NULL,
    status_qualified   BIGINT NOT NULL,
    status_closed      BIGINT NOT NULL,
    PRIMARY KEY (business_id, bucket)
);

CREATE FUNCTION lead_rollup_keep() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF NOT OLD.is_test THEN
            UPDATE lead_rollup SET
                leads = leads - 1, urgent = urgent - (OLD.priority = 'URGENT')::int,
                high = high - (OLD.priority = 'HIGH')::int, status_new = status_new - (OLD.status = 'NEW')::int,
                status_contacted = status_contacted - (OLD.status = 'CONTACTED')::int,
                status_qualified = status_qualified - (OLD.status = 'QUALIFIED')::int, status_closed = status_closed - (OLD.status = 'CLOSED')::int
            WHERE business_id = OLD.business_id AND bucket = quarter_hour(OLD.created_at);
            DELETE FROM lead_rollup WHERE business_id = OLD.business_id AND bucket = quarter_hour(OLD.created_at) AND leads = 0;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NOT NEW.is_test THEN
            INSERT INTO lead_rollup AS r VALUES (
                NEW.business_id, quarter_hour(NEW.created_at), 1, (NEW.priority = 'URGENT')::int,
                (NEW.priority = 'HIGH')::int, (NEW.status = 'NEW')::int, (NEW.status = 'CONTACTED')::int,
                (NEW.status = 'QUALIFIED')::int, (NEW.status = 'CLOSED')::int)
            ON CONFLICT (business_id, bucket) DO UPDATE SET
                leads = r.leads + 1, urgent = r.urgent + excluded.urgent, high = r.high + excluded.high,
                status_new = r.status_new + excluded.status_new, status_contacted = r.status_contacted + excluded.status_contacted,
                status_qualified = r.status_qualified + excluded.status_qualified, status_closed = r.status_closed + excluded.status_closed;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER lead_rollup_keep
AFTER INSERT OR DELETE OR UPDATE OF business_id, created_at, status, priority, is_test ON leads
FOR EACH ROW EXECUTE FUNCTION lead_rollup_keep();

-- Replies per recorded local day, channel and 64 ms (bucket = ms / 64).
CREATE TABLE response_latency_rollup (
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    channel     TEXT NOT NULL,
    day         TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    turns       BIGINT NOT NULL,
    PRIMARY KEY (business_id, channel, day, bucket)
);
CREATE INDEX response_latency_rollup_all ON response_latency_rollup (channel, day, bucket);

CREATE FUNCTION response_latency_rollup_keep() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE response_latency_rollup SET turns = turns - 1
        WHERE business_id = OLD.business_id AND channel = OLD.channel AND day = OLD.day AND bucket = OLD.ms / 64;
        DELETE FROM response_latency_rollup
        WHERE business_id = OLD.business_id AND channel = OLD.channel AND day = OLD.day AND bucket = OLD.ms / 64
          AND turns = 0;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO response_latency_rollup AS r VALUES (NEW.business_id, NEW.channel, NEW.day, NEW.ms / 64, 1)
        ON CONFLICT (business_id, channel, day, bucket) DO UPDATE SET turns = r.turns + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER response_latency_rollup_keep
AFTER INSERT OR DELETE OR UPDATE OF business_id, channel, day, ms ON response_latency
FOR EACH ROW EXECUTE FUNCTION response_latency_rollup_keep();

-- Live parts (see the store): hung-up calls checked for a lead, call
-- lengths for the p90, the owner's "not an emergency" marks.
CREATE INDEX calls_hung_up ON calls (business_id, started_at, conversation_id) WHERE ended_reason = 'caller_hung_up';
CREATE INDEX calls_duration ON calls (business_id, started_at, duration_seconds);
CREATE INDEX triage_marks_level ON triage_marks (business_id, level);
-- The analytics page's leads (priority, channel, time) from the index alone.
CREATE INDEX leads_activity ON leads (business_id, created_at) INCLUDE (priority, channel);

-- The rows recorded before this migration.
INSERT INTO call_rollup
SELECT business_id, quarter_hour(started_at), COUNT(*), COUNT(mode),
    COUNT(*) FILTER (WHERE ended_reason = 'agent_hung_up'), COUNT(*) FILTER (WHERE ended_reason = 'caller_hung_up'),
    COUNT(*) FILTER (WHERE ended_reason = 'transferred'), COUNT(*) FILTER (WHERE ended_reason = 'voicemail'),
    COALESCE(SUM(duration_seconds), 0), COUNT(duration_seconds)
FROM calls WHERE business_id IS NOT NULL GROUP BY 1, 2;

INSERT INTO lead_rollup
SELECT business_id, quarter_hour(created_at), COUNT(*), COUNT(*) FILTER (WHERE priority = 'URGENT'),
    COUNT(*) FILTER (WHERE priority = 'HIGH'), COUNT(*) FILTER (WHERE status = 'NEW'),
    COUNT(*) FILTER (WHERE status = 'CONTACTED'), COUNT(*) FILTER (WHERE status = 'QUALIFIED'),
    COUNT(*) FILTER (WHERE status = 'CLOSED')
FROM leads WHERE NOT is_test GROUP BY 1, 2;

INSERT INTO response_latency_rollup
SELECT business_id, channel, day, ms / 64, COUNT(*) FROM response_latency GROUP BY 1, 2, 3, 4;

-- The analytics page's conversations and questions, counted as events
-- arrive (as SQLite's analytics_rollup, migration 0012 there): conversations
-- per channel and UTC quarter hour, questions per UTC day and text.
CREATE TABLE analytics_rollup (
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,                 -- '' when the event had none
    bucket      TEXT NOT NULL,                 -- 'YYYY-MM-DDTHH:MM' (quarter hour) or 'YYYY-MM-DD' (questions)
    question    TEXT NOT NULL,                 -- '' for conversations
    first_at    TEXT NOT NULL,                 -- the earliest event counted here
    count       BIGINT NOT NULL,
    PRIMARY KEY (business_id, kind, bucket, channel, question)
);

CREATE FUNCTION analytics_rollup_bucket(kind TEXT, created_at TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN kind = 'conversation_started' THEN quarter_hour(created_at) ELSE substr(created_at, 1, 10) END $$;

CREATE FUNCTION analytics_rollup_question(kind TEXT, data JSONB) RETURNS TEXT LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN kind = 'conversation_started' THEN '' ELSE COALESCE(data ->> 'question', '') END $$;

CREATE FUNCTION analytics_rollup_keep() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.kind IN ('conversation_started', 'knowledge_answered', 'knowledge_unanswered') THEN
            UPDATE analytics_rollup SET count = count - 1
            WHERE business_id = OLD.business_id AND kind = OLD.kind AND channel = COALESCE(OLD.channel, '')
              AND bucket = analytics_rollup_bucket(OLD.kind, OLD.created_at)
              AND question = analytics_rollup_question(OLD.kind, OLD.data);
        END IF;
    ELSIF NEW.kind IN ('conversation_started', 'knowledge_answered', 'knowledge_unanswered') THEN
        INSERT INTO analytics_rollup AS r VALUES (
            NEW.business_id, NEW.kind, COALESCE(NEW.channel, ''), analytics_rollup_bucket(NEW.kind, NEW.created_at),
            analytics_rollup_question(NEW.kind, NEW.data), NEW.created_at, 1)
        ON CONFLICT (business_id, kind, bucket, channel, question)
        DO UPDATE SET count = r.count + 1, first_at = LEAST(r.first_at, excluded.first_at);
    END IF;
    RETURN NULL;
END $$;

-- Events are recorded, never changed: inserts and deletions.
CREATE TRIGGER analytics_rollup_keep AFTER INSERT OR DELETE ON analytics_events
FOR EACH ROW EXECUTE FUNCTION analytics_rollup_keep();

INSERT INTO analytics_rollup
SELECT business_id, kind, COALESCE(channel, ''), analytics_rollup_bucket(kind, created_at),
    analytics_rollup_question(kind, data), MIN(created_at), COUNT(*)
FROM analytics_events
WHERE kind IN ('conversation_started', 'knowledge_answered', 'knowledge_unanswered')
GROUP BY 1, 2, 3, 4, 5;
