-- The embedded sentence model embeds every chunk; an OpenAI embedding model,
-- when configured, embeds them too. A chunk may so carry one vector per
-- model: the key becomes (chunk, model). The local model's vectors live in
-- knowledge_vec_local_<dim>, others' in knowledge_vec_<dim> as before.
CREATE TABLE knowledge_chunk_embeddings_new (
    chunk_id    INTEGER NOT NULL REFERENCES knowledge_chunks (id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    dim         INTEGER NOT NULL,
    embedded_at TEXT NOT NULL,
    PRIMARY KEY (chunk_id, model)
) WITHOUT ROWID;
INSERT INTO knowledge_chunk_embeddings_new SELECT chunk_id, model, dim, embedded_at FROM knowledge_chunk_embeddings;
DROP TABLE knowledge_chunk_embeddings;
ALTER TABLE knowledge_chunk_embeddings_new RENAME TO knowledge_chunk_embeddings;
CREATE INDEX knowledge_chunk_embeddings_model ON knowledge_chunk_embeddings (model, chunk_id);

-- The owner's "this was (not) an emergency" on a lead: the message that was
-- triaged and the level it should have had. They become exemplars for the
-- triage classifier of that business. One mark per lead; a new one replaces it.
CREATE TABLE triage_marks (
    lead_id     TEXT PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    level       TEXT NOT NULL CHECK (level IN ('NORMAL', 'HIGH', 'URGENT')),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX triage_marks_business ON triage_marks (business_id, created_at);
