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
