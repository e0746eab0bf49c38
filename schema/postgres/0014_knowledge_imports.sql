-- Knowledge imported from files and websites (issue 14).
-- A chunk's heading: the section of its document it came from (a PDF, DOCX
-- or web page heading), shown as its title beside the document's.
ALTER TABLE knowledge_chunks ADD COLUMN heading TEXT;

-- Every import is a background job the owner can watch: queued, running,
-- done or failed (with the reason, in plain words).
CREATE TABLE knowledge_imports (
    id          TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('file', 'page', 'site')),
    source      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    detail      TEXT,
    documents   BIGINT NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX knowledge_imports_business ON knowledge_imports (business_id, created_at);
