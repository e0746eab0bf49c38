-- A counter per business, raised in the same transaction as every write to
-- its knowledge vectors (import, edit, re-embedding, re-centring, layout
-- upgrade). A reader that keeps a copy of the business's sign bits in memory
-- (the coarse nearest-neighbour scan) compares it to know the copy is still
-- the table's, whichever process wrote. Rows are never deleted, so a value
-- is never seen twice for different vectors.
CREATE TABLE knowledge_vec_generations (
    business_id TEXT PRIMARY KEY,
    generation  INTEGER NOT NULL
);

-- Businesses that already have chunks start at 1: no process holds a copy
-- yet, and without a row their searches would keep to sqlite-vec's scan.
INSERT INTO knowledge_vec_generations (business_id, generation)
SELECT DISTINCT business_id, 1 FROM knowledge_chunks;
