-- The owner's web UI: lead filters by status and date, analytics by kind over
-- time, a lead's call, and a business's users.
CREATE INDEX leads_business_status ON leads (business_id, status, created_at);
CREATE INDEX analytics_events_business_kind ON analytics_events (business_id, kind, created_at);
CREATE INDEX calls_conversation ON calls (conversation_id);
CREATE INDEX users_business ON users (business_id);
