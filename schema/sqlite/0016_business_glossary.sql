-- Each business's own glossary (issue 12): phrases its customers say and the
-- words its documents use for them, searched beside the customer's words for
-- that business only. The shared glossary, compiled in, holds language; what
-- is true of one business's documents lives here, written by its owner.
CREATE TABLE business_glossary (
    business_id TEXT PRIMARY KEY REFERENCES businesses (id) ON DELETE CASCADE,
    glossary    TEXT NOT NULL,             -- JSON of [domain::Gloss], in the owner's order
    updated_at  TEXT NOT NULL
);
