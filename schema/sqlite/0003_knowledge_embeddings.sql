-- Which chunks have an embedding, from which model. The vectors themselves
-- live in sqlite-vec tables named by dimension (knowledge_vec_<dim>), created
-- when the first embedding of that size arrives; a vector counts only while
-- its row here exists, so a deleted (or re-used) chunk id never matches.
CREATE TABLE knowledge_chunk_embeddings (
    chunk_id    INTEGER PRIMARY KEY REFERENCES knowledge_chunks (id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    dim         INTEGER NOT NULL,
    embedded_at TEXT NOT NULL
);
