-- Rollups for the analytics outcomes and reply latency, kept by triggers as
-- rows arrive, change or go (late rows, a lead's status changed weeks
-- later, a lead or a business deleted), so a period reads a few thousand
-- rollup rows instead of every call, lead and reply. Every day is kept,
-- today included: nothing has to "close" a day, and no rollup goes stale.
--
-- Calls and leads are counted per UTC quarter hour of their start (as
-- analytics_rollup): every time zone's offset is whole quarter hours, so a
-- period starting at any local midnight starts on a bucket, and a business
-- changing its time zone needs no rebuild. Reply latency is counted per the
-- local `day` the reply was recorded with (the day its own row keeps: a
-- time-zone change leaves past days as they were, as before) and per 64 ms
-- of latency: the store finds which 64 ms holds a quantile's rank from the
-- counts, then reads only that slice of the replies, so quantiles stay exact.

-- Quarter hour of a timestamp 'YYYY-MM-DDTHH:MM:SS.mmmZ': 'YYYY-MM-DDTHH:MM'.
CREATE TABLE call_rollup (
    business_id   TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    bucket        TEXT NOT NULL,
    calls         INTEGER NOT NULL,
    answered      INTEGER NOT NULL,             -- mode IS NOT NULL
    agent_hung_up INTEGER NOT NULL,
    caller_hung_up INTEGER NOT NULL,
    transferred   INTEGER NOT NULL,
    voicemail     INTEGER NOT NULL,
    seconds       INTEGER NOT NULL,             -- sum of the known durations
    timed         INTEGER NOT NULL,             -- calls with a known duration
    PRIMARY KEY (business_id, bucket)
) WITHOUT ROWID;

CREATE TRIGGER call_rollup_add AFTER INSERT ON calls WHEN NEW.business_id IS NOT NULL
BEGIN
    INSERT INTO call_rollup VALUES (
        NEW.business_id,
        substr(NEW.started_at, 1, 14) || printf('%02d', CAST(substr(NEW.started_at, 15, 2) AS INTEGER) / 15 * 15),
        1, NEW.mode IS NOT NULL, NEW.ended_reason IS 'agent_hung_up', NEW.ended_reason IS 'caller_hung_up',
        NEW.ended_reason IS 'transferred', NEW.ended_reason IS 'voicemail',
        COALESCE(NEW.duration_seconds, 0), NEW.duration_seconds IS NOT NULL)
    ON CONFLICT (business_id, bucket) DO UPDATE SET
        calls = calls + 1, answered = answered + excluded.answered,
        agent_hung_up = agent_hung_up + excluded.agent_hung_up,
        caller_hung_up = caller_hung_up + excluded.caller_hung_up,
        transferred = transferred + excluded.transferred, voicemail = voicemail + excluded.voicemail,
        seconds = seconds + excluded.seconds, timed = timed + excluded.timed;
END;

CREATE TRIGGER call_rollup_remove AFTER DELETE ON calls WHEN OLD.business_id IS NOT NULL
BEGIN
    UPDATE call_rollup SET
        calls = calls - 1, answered = answered - (OLD.mode IS NOT NULL),
        agent_hung_up = agent_hung_up - (OLD.ended_reason IS 'agent_hung_up'),
        caller_hung_up = caller_hung_up - (OLD.ended_reason IS 'caller_hung_up'),
        transferred = transferred - (OLD.ended_reason IS 'transferred'),
        voicemail = voicemail - (OLD.ended_reason IS 'voicemail'),
        seconds = seconds - COALESCE(OLD.duration_seconds, 0), timed = timed - (OLD.duration_seconds IS NOT NULL)
    WHERE business_id = OLD.business_id
      AND bucket = substr(OLD.started_at, 1, 14) || printf('%02d', CAST(substr(OLD.started_at, 15, 2) AS INTEGER) / 15 * 15);
    DELETE FROM call_rollup WHERE business_id = OLD.business_id AND calls = 0
      AND bucket = substr(OLD.started_at, 1, 14) || printf('%02d', CAST(substr(OLD.started_at, 15, 2) AS INTEGER) / 15 * 15);
END;

-- A call's row is updated as it goes (mode, ending, duration): take the old
-- row out and put the new one in.
CREATE TRIGGER call_rollup_change
AFTER UPDATE OF business_id, started_at, mode, ended_reason, duration_seconds ON calls
BEGIN
    UPDATE call_rollup SET
        calls = calls - 1, answered = answered - (OLD.mode IS NOT NULL),
        agent_hung_up = agent_hung_up - (OLD.ended_reason IS 'agent_hung_up'),
        caller_hung_up = caller_hung_up - (OLD.ended_reason IS 'caller_hung_up'),
        transferred = transferred - (OLD.ended_reason IS 'transferred'),
        voicemail = voicemail - (OLD.ended_reason IS 'voicemail'),
        seconds = seconds - COALESCE(OLD.duration_seconds, 0), timed = timed - (OLD.duration_seconds IS NOT NULL)
    WHERE business_id = OLD.business_id
      AND bucket = substr(OLD.started_at, 1, 14) || printf('%02d', CAST(substr(OLD.started_at, 15, 2) AS INTEGER) / 15 * 15);
    DELETE FROM call_rollup WHERE business_id = OLD.business_id AND calls = 0
      AND bucket = substr(OLD.started_at, 1, 14) || printf('%02d', CAST(substr(OLD.started_at, 15, 2) AS INTEGER) / 15 * 15);
    INSERT INTO call_rollup SELECT
        NEW.business_id,
        substr(NEW.started_at, 1, 14) || printf('%02d', CAST(substr(NEW.started_at, 15, 2) AS INTEGER) / 15 * 15),
        1, NEW.mode IS NOT NULL, NEW.ended_reason IS 'agent_hung_up', NEW.ended_reason IS 'caller_hung_up',
        NEW.ended_reason IS 'transferred', NEW.ended_reason IS 'voicemail',
        COALESCE(NEW.duration_seconds, 0), NEW.duration_seconds IS NOT NULL
    WHERE NEW.business_id IS NOT NULL
    ON CONFLICT (business_id, bucket) DO UPDATE SET
        calls = calls + 1, answered = answered + excluded.answered,
        agent_hung_up = agent_hung_up + excluded.agent_hung_up,
        caller_hung_up = caller_hung_up + excluded.caller_hung_up,
        transferred = transferred + excluded.transferred, voicemail = voicemail + excluded.voicemail,
        seconds = seconds + excluded.seconds, timed = timed + excluded.timed;
END;

-- Leads that are not tests, by quarter hour of creation: emergencies by
-- level, and how many stand at each status now.
CREATE TABLE lead_rollup (
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    bucket      TEXT NOT NULL,
    leads       INTEGER NOT NULL,
    urgent      INTEGER NOT NULL,
    high        INTEGER NOT NULL,
    status_new         INTEGER NOT NULL,
    status_contacted   INTEGER NOT NULL,
    status_qualified   INTEGER NOT NULL,
    status_closed      INTEGER NOT NULL,
    PRIMARY KEY (business_id, bucket)
) WITHOUT ROWID;

CREATE TRIGGER lead_rollup_add AFTER INSERT ON leads WHEN NEW.is_test = 0
BEGIN
    INSERT INTO lead_rollup VALUES (
        NEW.business_id,
        substr(NEW.created_at, 1, 14) || printf('%02d', CAST(substr(NEW.created_at, 15, 2) AS INTEGER) / 15 * 15),
        1, NEW.priority = 'URGENT', NEW.priority = 'HIGH', NEW.status = 'NEW', NEW.status = 'CONTACTED',
        NEW.status = 'QUALIFIED', NEW.status = 'CLOSED')
    ON CONFLICT (business_id, bucket) DO UPDATE SET
        leads = leads + 1, urgent = urgent + excluded.urgent, high = high + excluded.high,
        status_new = status_new + excluded.status_new, status_contacted = status_contacted + excluded.status_contacted,
        status_qualified = status_qualified + excluded.status_qualified, status_closed = status_closed + excluded.status_closed;
END;

CREATE TRIGGER lead_rollup_remove AFTER DELETE ON leads WHEN OLD.is_test = 0
BEGIN
    UPDATE lead_rollup SET
        leads = leads - 1, urgent = urgent - (OLD.priority = 'URGENT'), high = high - (OLD.priority = 'HIGH'),
        status_new = status_new - (OLD.status = 'NEW'), status_contacted = status_contacted - (OLD.status = 'CONTACTED'),
        status_qualified = status_qualified - (OLD.status = 'QUALIFIED'), status_closed = status_closed - (OLD.status = 'CLOSED')
    WHERE business_id = OLD.business_id
      AND bucket = substr(OLD.created_at, 1, 14) || printf('%02d', CAST(substr(OLD.created_at, 15, 2) AS INTEGER) / 15 * 15);
    DELETE FROM lead_rollup WHERE business_id = OLD.business_id AND leads = 0
      AND bucket = substr(OLD.created_at, 1, 14) || printf('%02d', CAST(substr(OLD.created_at, 15, 2) AS INTEGER) / 15 * 15);
END;

-- The owner moves a lead along (new -> contacted -> closed) long after the
-- day it came in: that day's counts move with it.
CREATE TRIGGER lead_rollup_change AFTER UPDATE OF business_id, created_at, status, priority, is_test ON leads
BEGIN
    UPDATE lead_rollup SET
        leads = leads - 1, urgent = urgent - (OLD.priority = 'URGENT'), high = high - (OLD.priority = 'HIGH'),
        status_new = status_new - (OLD.status = 'NEW'), status_contacted = status_contacted - (OLD.status = 'CONTACTED'),
        status_qualified = status_qualified - (OLD.status = 'QUALIFIED'), status_closed = status_closed - (OLD.status = 'CLOSED')
    WHERE OLD.is_test = 0 AND business_id = OLD.business_id
      AND bucket = substr(OLD.created_at, 1, 14) || printf('%02d', CAST(substr(OLD.created_at, 15, 2) AS INTEGER) / 15 * 15);
    DELETE FROM lead_rollup WHERE business_id = OLD.business_id AND leads = 0
      AND bucket = substr(OLD.created_at, 1, 14) || printf('%02d', CAST(substr(OLD.created_at, 15, 2) AS INTEGER) / 15 * 15);
    INSERT INTO lead_rollup SELECT
        NEW.business_id,
        substr(NEW.created_at, 1, 14) || printf('%02d', CAST(substr(NEW.created_at, 15, 2) AS INTEGER) / 15 * 15),
        1, NEW.priority = 'URGENT', NEW.priority = 'HIGH', NEW.status = 'NEW', NEW.status = 'CONTACTED',
        NEW.status = 'QUALIFIED', NEW.status = 'CLOSED'
    WHERE NEW.is_test = 0
    ON CONFLICT (business_id, bucket) DO UPDATE SET
        leads = leads + 1, urgent = urgent + excluded.urgent, high = high + excluded.high,
        status_new = status_new + excluded.status_new, status_contacted = status_contacted + excluded.status_contacted,
        status_qualified = status_qualified + excluded.status_qualified, status_closed = status_closed + excluded.status_closed;
END;

-- Replies per local day, channel and 64 ms of latency (bucket = ms / 64).
CREATE TABLE response_latency_rollup (
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    channel     TEXT NOT NULL,
    day         TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    turns       INTEGER NOT NULL,
    PRIMARY KEY (business_id, channel, day, bucket)
) WITHOUT ROWID;
-- Every business's day (the operator's page).
CREATE INDEX response_latency_rollup_all ON response_latency_rollup (channel, day, bucket);

CREATE TRIGGER response_latency_rollup_add AFTER INSERT ON response_latency
BEGIN
    INSERT INTO response_latency_rollup VALUES (NEW.business_id, NEW.channel, NEW.day, NEW.ms / 64, 1)
    ON CONFLICT (business_id, channel, day, bucket) DO UPDATE SET turns = turns + 1;
END;

CREATE TRIGGER response_latency_rollup_remove AFTER DELETE ON response_latency
BEGIN
    UPDATE response_latency_rollup SET turns = turns - 1
    WHERE business_id = OLD.business_id AND channel = OLD.channel AND day = OLD.day AND bucket = OLD.ms / 64;
    DELETE FROM response_latency_rollup
    WHERE business_id = OLD.business_id AND channel = OLD.channel AND day = OLD.day AND bucket = OLD.ms / 64
      AND turns = 0;
END;

CREATE TRIGGER response_latency_rollup_change AFTER UPDATE OF business_id, channel, day, ms ON response_latency
BEGIN
    UPDATE response_latency_rollup SET turns = turns - 1
    WHERE business_id = OLD.business_id AND channel = OLD.channel AND day = OLD.day AND bucket = OLD.ms / 64;
    DELETE FROM response_latency_rollup
    WHERE business_id = OLD.business_id AND channel = OLD.channel AND day = OLD.day AND bucket = OLD.ms / 64
      AND turns = 0;
    INSERT INTO response_latency_rollup VALUES (NEW.business_id, NEW.channel, NEW.day, NEW.ms / 64, 1)
    ON CONFLICT (business_id, channel, day, bucket) DO UPDATE SET turns = turns + 1;
END;

-- The slice walks read a day's replies from a latency up (response_latency_day
-- and response_latency_all); the period walk over the ms index is gone.
DROP INDEX response_latency_ms;
-- Live parts: calls the caller hung up on, checked for a lead of their
-- conversation; call lengths for the p90; the owner's "not an emergency" marks.
CREATE INDEX calls_hung_up ON calls (business_id, started_at, conversation_id) WHERE ended_reason = 'caller_hung_up';
CREATE INDEX calls_duration ON calls (business_id, started_at, duration_seconds);
CREATE INDEX leads_conversation ON leads (conversation_id);
CREATE INDEX triage_marks_level ON triage_marks (business_id, level);
-- The analytics page's leads (priority, channel, time) from the index alone.
CREATE INDEX leads_activity ON leads (business_id, created_at, priority, channel);

-- The rows recorded before this migration.
INSERT INTO call_rollup
SELECT business_id, substr(started_at, 1, 14) || printf('%02d', CAST(substr(started_at, 15, 2) AS INTEGER) / 15 * 15) AS b,
    COUNT(*), SUM(mode IS NOT NULL), SUM(ended_reason IS 'agent_hung_up'), SUM(ended_reason IS 'caller_hung_up'),
    SUM(ended_reason IS 'transferred'), SUM(ended_reason IS 'voicemail'),
    COALESCE(SUM(duration_seconds), 0), COUNT(duration_seconds)
FROM calls WHERE business_id IS NOT NULL GROUP BY business_id, b;

INSERT INTO lead_rollup
SELECT business_id, substr(created_at, 1, 14) || printf('%02d', CAST(substr(created_at, 15, 2) AS INTEGER) / 15 * 15) AS b,
    COUNT(*), SUM(priority = 'URGENT'), SUM(priority = 'HIGH'), SUM(status = 'NEW'), SUM(status = 'CONTACTED'),
    SUM(status = 'QUALIFIED'), SUM(status = 'CLOSED')
FROM leads WHERE is_test = 0 GROUP BY business_id, b;

INSERT INTO response_latency_rollup
SELECT business_id, channel, day, ms / 64 AS b, COUNT(*) FROM response_latency GROUP BY business_id, channel, day, b;
