-- The original data model (Business, AgentConfig, LeadCaptureQuestion, Lead,
-- KnowledgeBase, User) plus what the channels need: conversations and their
-- messages, calls, the notification outbox and analytics events.
-- Timestamps are RFC 3339 UTC text with milliseconds, so they sort as text.

CREATE TABLE businesses (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL CHECK (length(trim(name)) > 0),
    business_type             TEXT NOT NULL DEFAULT 'OTHER'
        CHECK (business_type IN ('REAL_ESTATE', 'LAW', 'HVAC', 'PLUMBING', 'OTHER')),
    plan_tier                 TEXT NOT NULL DEFAULT 'FREE' CHECK (plan_tier IN ('FREE', 'BASIC', 'PRO')),
    twilio_phone_number       TEXT UNIQUE,
    notification_email        TEXT,
    notification_phone_number TEXT,
    country                   TEXT NOT NULL DEFAULT 'US',
    timezone                  TEXT NOT NULL DEFAULT 'UTC',
    website_origins           TEXT NOT NULL DEFAULT '[]',   -- JSON array of origins
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);
CREATE INDEX businesses_name ON businesses (name);

CREATE TABLE agent_configs (
    id                              TEXT PRIMARY KEY,
    business_id                     TEXT NOT NULL UNIQUE REFERENCES businesses (id) ON DELETE CASCADE,
    agent_name                      TEXT NOT NULL DEFAULT 'AI Assistant',
    persona_prompt                  TEXT NOT NULL DEFAULT 'You are a helpful and friendly assistant.',
    welcome_message                 TEXT NOT NULL DEFAULT 'Hello! How can I help you today?',
    color_theme                     TEXT NOT NULL DEFAULT '{"primary": "#0ea5e9", "secondary": "#64748b"}',
    lead_capture_completion_message TEXT,
    voice_greeting_message          TEXT,
    voice_completion_message        TEXT,
    voice_emergency_message         TEXT,
    voice_end_call_message          TEXT,
    twilio_voice                    TEXT NOT NULL DEFAULT 'alice',
    twilio_language                 TEXT NOT NULL DEFAULT 'en-US',
    created_at                      TEXT NOT NULL,
    updated_at                      TEXT NOT NULL
);

CREATE TABLE lead_capture_questions (
    id                         TEXT PRIMARY KEY,
    config_id                  TEXT NOT NULL REFERENCES agent_configs (id) ON DELETE CASCADE,
    question_text              TEXT NOT NULL CHECK (length(trim(question_text)) > 0),
    expected_format            TEXT NOT NULL DEFAULT 'TEXT' CHECK (expected_format IN ('TEXT', 'EMAIL', 'PHONE')),
    "order"                    INTEGER NOT NULL,
    is_required                INTEGER NOT NULL DEFAULT 1,
    maps_to_lead_field         TEXT,
    is_essential_for_emergency INTEGER NOT NULL DEFAULT 0,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL,
    UNIQUE (config_id, "order")
);

-- KnowledgeBase: the owner's documents, and the chunks retrieval ranks.
CREATE TABLE knowledge_documents (
    id          TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    content     TEXT NOT NULL,
    source_url  TEXT,
    indexed_at  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX knowledge_documents_business ON knowledge_documents (business_id);

CREATE TABLE knowledge_chunks (
    id          INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES knowledge_documents (id) ON DELETE CASCADE,
    business_id TEXT NOT NULL,
    position    INTEGER NOT NULL,
    content     TEXT NOT NULL
);
CREATE INDEX knowledge_chunks_document ON knowledge_chunks (document_id);

-- BM25 full-text index over chunks, kept in step by triggers.
CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5 (
    content, business_id UNINDEXED, content = 'knowledge_chunks', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN
    INSERT INTO knowledge_chunks_fts (rowid, content, business_id) VALUES (new.id, new.content, new.business_id);
END;
CREATE TRIGGER knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN
    INSERT INTO knowledge_chunks_fts (knowledge_chunks_fts, rowid, content, business_id)
        VALUES ('delete', old.id, old.content, old.business_id);
END;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'staff', 'operator')),
    business_id   TEXT REFERENCES businesses (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CHECK ((role = 'operator') = (business_id IS NULL))
);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL CHECK (channel IN ('CHAT', 'VOICE', 'IMPORT')),
    external_id     TEXT,                  -- chat session id or Twilio CallSid
    emergency_level TEXT,
    started_at      TEXT NOT NULL,
    ended_at        TEXT
);
CREATE INDEX conversations_business ON conversations (business_id, started_at);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content         TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE leads (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('CHAT', 'VOICE', 'IMPORT')),
    status          TEXT NOT NULL DEFAULT 'NEW' CHECK (status IN ('NEW', 'CONTACTED', 'QUALIFIED', 'CLOSED')),
    priority        TEXT NOT NULL DEFAULT 'NORMAL' CHECK (priority IN ('LOW', 'NORMAL', 'HIGH', 'URGENT')),
    contact_name    TEXT,
    contact_email   TEXT,
    contact_phone   TEXT,
    address         TEXT,
    notes           TEXT,
    captured_data   TEXT NOT NULL DEFAULT '{}',   -- JSON object of every captured answer
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX leads_business ON leads (business_id, created_at);

CREATE TABLE calls (
    call_sid         TEXT PRIMARY KEY,
    business_id      TEXT REFERENCES businesses (id) ON DELETE CASCADE,
    conversation_id  TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    from_number      TEXT,
    to_number        TEXT,
    status           TEXT NOT NULL,
    duration_seconds INTEGER,
    recording_url    TEXT,
    summary          TEXT,
    started_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX calls_business ON calls (business_id, started_at);

-- Durable outbox: a row per notification, written with the event that causes it.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    lead_id         TEXT REFERENCES leads (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL,             -- new_lead, urgent_lead, call_ended, digest, test
    channel         TEXT NOT NULL,             -- email, sms, voice_call, webhook
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,             -- JSON
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);

CREATE TABLE analytics_events (
    id          INTEGER PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,                 -- conversation_started, lead_created, emergency, call_ended, ...
    channel     TEXT,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE INDEX analytics_events_business ON analytics_events (business_id, created_at);
