-- Each business's chunk count, written with its document frequencies
-- (knowledge_terms) whenever its chunks change: every full-text search
-- weighs words by how many chunks hold them against this, and counting
-- 10,000 chunks through the index cost about half a millisecond a question.
-- Derived data: a business without a row is counted (databases from before).
CREATE TABLE knowledge_chunk_counts (
    business_id TEXT PRIMARY KEY,
    chunks      INTEGER NOT NULL
);

INSERT INTO knowledge_chunk_counts (business_id, chunks)
SELECT business_id, COUNT(*) FROM knowledge_chunks GROUP BY business_id;
