-- The Postgres schema, equal to what SQLite migrations 0001-0011 build (the
-- versions are shared, so `schema_version` means the same on both backends).
-- Differences on purpose: JSON in jsonb, flags in boolean, counters in
-- bigint, generated identities instead of rowids, a stored tsvector with a
-- GIN index instead of FTS5, and embeddings as real[] ranked in the process.
-- Timestamps stay RFC 3339 UTC text with milliseconds (they sort as text and
-- compare exactly as on SQLite) until the store trait carries typed times.

CREATE TABLE businesses (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL CHECK (length(trim(name)) > 0),
    business_type             TEXT NOT NULL DEFAULT 'OTHER'
        CHECK (business_type IN ('REAL_ESTATE', 'LAW', 'HVAC', 'PLUMBING', 'OTHER')),
    plan_tier                 TEXT NOT NULL DEFAULT 'FREE' CHECK (plan_tier IN ('FREE', 'BASIC', 'PRO')),
    twilio_phone_number       TEXT UNIQUE,
    notification_email        TEXT,
    notification_phone_number TEXT,
    notification_webhook_url  TEXT,
    webhook_secret            TEXT,
    country                   TEXT NOT NULL DEFAULT 'US',
    timezone                  TEXT NOT NULL DEFAULT 'UTC',
    website_origins           JSONB NOT NULL DEFAULT '[]',
    widget_seen_origin        TEXT,
    widget_seen_at            TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);
CREATE INDEX businesses_name ON businesses (lower(name));

CREATE TABLE agent_configs (
    id                              TEXT PRIMARY KEY,
    business_id                     TEXT NOT NULL UNIQUE REFERENCES businesses (id) ON DELETE CASCADE,
    agent_name                      TEXT NOT NULL,
    persona_prompt                  TEXT NOT NULL,
    welcome_message                 TEXT NOT NULL,
    color_theme                     JSONB NOT NULL,
    lead_capture_completion_message TEXT,
    voice_greeting_message          TEXT,
    voice_completion_message        TEXT,
    voice_emergency_message         TEXT,
    voice_end_call_message          TEXT,
    twilio_voice                    TEXT NOT NULL,
    twilio_language                 TEXT NOT NULL,
    voice_mode                      TEXT NOT NULL DEFAULT 'auto' CHECK (voice_mode IN ('auto', 'realtime', 'gather')),
    realtime_voice                  TEXT NOT NULL DEFAULT 'marin',
    created_at                      TEXT NOT NULL,
    updated_at                      TEXT NOT NULL
);

CREATE TABLE lead_capture_questions (
    id                         TEXT PRIMARY KEY,
    config_id                  TEXT NOT NULL REFERENCES agent_configs (id) ON DELETE CASCADE,
    question_text              TEXT NOT NULL CHECK (length(trim(question_text)) > 0),
    expected_format            TEXT NOT NULL DEFAULT 'TEXT' CHECK (expected_format IN ('TEXT', 'EMAIL', 'PHONE')),
    "order"                    BIGINT NOT NULL,
    is_required                BOOLEAN NOT NULL DEFAULT TRUE,
    maps_to_lead_field         TEXT,
    is_essential_for_emergency BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL,
    UNIQUE (config_id, "order")
);

CREATE TABLE knowledge_documents (
    id          TEXT PRIMARY KEY,
    -- Insertion order among documents created in the same millisecond.
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    content     TEXT NOT NULL,
    source_url  TEXT,
    indexed_at  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX knowledge_documents_business ON knowledge_documents (business_id, created_at, seq);

CREATE TABLE knowledge_chunks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES knowledge_documents (id) ON DELETE CASCADE,
    business_id TEXT NOT NULL,
    position    BIGINT NOT NULL,
    content     TEXT NOT NULL,
    -- Full-text index (English stemming), kept by Postgres.
    tsv         TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);
CREATE INDEX knowledge_chunks_document ON knowledge_chunks (document_id);
CREATE INDEX knowledge_chunks_business ON knowledge_chunks (business_id);
CREATE INDEX knowledge_chunks_tsv ON knowledge_chunks USING GIN (tsv);

-- One vector per (chunk, model): the embedded sentence model's always, an
-- OpenAI model's when one is configured.
CREATE TABLE knowledge_chunk_embeddings (
    chunk_id    BIGINT NOT NULL REFERENCES knowledge_chunks (id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    business_id TEXT NOT NULL,
    dim         BIGINT NOT NULL,
    embedding   REAL[] NOT NULL,
    embedded_at TEXT NOT NULL,
    PRIMARY KEY (chunk_id, model)
);
CREATE INDEX knowledge_chunk_embeddings_business ON knowledge_chunk_embeddings (business_id, model);

-- Document frequency of each (lightly stemmed) word in a business's chunks:
-- retrieval leaves very common words out of a query when rarer ones are there.
CREATE TABLE knowledge_terms (
    business_id TEXT NOT NULL,
    term        TEXT NOT NULL,
    df          BIGINT NOT NULL,
    PRIMARY KEY (business_id, term)
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'staff', 'operator')),
    business_id   TEXT REFERENCES businesses (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CHECK ((role = 'operator') = (business_id IS NULL))
);
-- Emails are unique whatever their case (SQLite: COLLATE NOCASE).
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_business ON users (business_id);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL CHECK (channel IN ('CHAT', 'VOICE', 'IMPORT')),
    external_id     TEXT,
    emergency_level TEXT,
    is_test         BOOLEAN NOT NULL DEFAULT FALSE,
    started_at      TEXT NOT NULL,
    ended_at        TEXT
);
CREATE INDEX conversations_business ON conversations (business_id, started_at);
CREATE INDEX conversations_external ON conversations (external_id);

CREATE TABLE messages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    captured_data   JSONB NOT NULL DEFAULT '{}',
    is_test         BOOLEAN NOT NULL DEFAULT FALSE,
    owner_notes     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX leads_business ON leads (business_id, created_at);
CREATE INDEX leads_business_status ON leads (business_id, status, created_at);
CREATE INDEX leads_conversation ON leads (conversation_id);

CREATE TABLE calls (
    call_sid         TEXT PRIMARY KEY,
    business_id      TEXT REFERENCES businesses (id) ON DELETE CASCADE,
    conversation_id  TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    from_number      TEXT,
    to_number        TEXT,
    status           TEXT NOT NULL,
    duration_seconds BIGINT,
    recording_url    TEXT,
    summary          TEXT,
    mode             TEXT,
    ended_reason     TEXT,
    started_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    ended_at         TEXT
);
CREATE INDEX calls_business ON calls (business_id, started_at);
CREATE INDEX calls_conversation ON calls (conversation_id);

CREATE TABLE call_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid   TEXT NOT NULL,
    status     TEXT NOT NULL,
    sequence   BIGINT,
    data       JSONB NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_sid, id);

-- Durable outbox: a row per notification, written with the event that causes
-- it. In-flight rows carry a lease (token and expiry): workers claim with
-- FOR UPDATE SKIP LOCKED, and a finished delivery only updates the row it claimed.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    lead_id         TEXT REFERENCES leads (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    payload         JSONB NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'in_flight', 'sent', 'kept', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    lease_token     TEXT,
    lease_until     TEXT,
    sent_at         TEXT,
    provider_id     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_channel_due ON notifications (channel, state, next_attempt_at);
CREATE INDEX notifications_business_state ON notifications (business_id, state, created_at);
CREATE INDEX notifications_lead ON notifications (lead_id);
CREATE INDEX notifications_business_channel ON notifications (business_id, channel, created_at);

CREATE TABLE notification_prefs (
    business_id TEXT PRIMARY KEY REFERENCES businesses (id) ON DELETE CASCADE,
    prefs       JSONB NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE local_emails (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

CREATE TABLE analytics_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    channel     TEXT,
    data        JSONB NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE INDEX analytics_events_business ON analytics_events (business_id, created_at);
CREATE INDEX analytics_events_business_kind ON analytics_events (business_id, kind, created_at);

CREATE TABLE emergency_rules (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    action      TEXT NOT NULL CHECK (action IN ('add', 'remove')),
    level       TEXT CHECK (level IN ('NORMAL', 'HIGH', 'URGENT')),
    phrase      TEXT NOT NULL CHECK (length(trim(phrase)) > 0),
    created_at  TEXT NOT NULL,
    UNIQUE (business_id, action, phrase),
    CHECK ((action = 'add') = (level IS NOT NULL))
);

CREATE TABLE business_facts (
    business_id TEXT PRIMARY KEY REFERENCES businesses (id) ON DELETE CASCADE,
    facts       JSONB NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE revoked_sessions (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);

CREATE TABLE triage_marks (
    lead_id     TEXT PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    level       TEXT NOT NULL CHECK (level IN ('NORMAL', 'HIGH', 'URGENT')),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX triage_marks_business ON triage_marks (business_id, created_at);
