-- Each business's own glossary (issue 12): phrases its customers say and the
-- words its documents use for them, searched beside the customer's words for
-- that business only (see schema/sqlite/0016_business_glossary.sql).
CREATE TABLE business_glossary (
    business_id TEXT PRIMARY KEY REFERENCES businesses (id) ON DELETE CASCADE,
    glossary    JSONB NOT NULL,
    updated_at  TEXT NOT NULL
);
