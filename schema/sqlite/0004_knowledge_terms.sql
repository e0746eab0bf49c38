-- Document frequency of each (lightly stemmed) word in a business's chunks.
-- In a large knowledge base, words found in most chunks ("service", "the")
-- make a full-text query score thousands of rows for nothing; retrieval
-- leaves them out of the query when rarer words are there.
CREATE TABLE knowledge_terms (
    business_id TEXT NOT NULL,
    term        TEXT NOT NULL,
    df          INTEGER NOT NULL,
    PRIMARY KEY (business_id, term)
) WITHOUT ROWID;

CREATE INDEX knowledge_chunks_business ON knowledge_chunks (business_id);
