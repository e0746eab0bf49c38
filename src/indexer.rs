//! Embeds knowledge chunks in the background when an embedding model is
//! configured, so retrieval can fuse meaning with full-text ranking. Polls:
//! documents also change through the CLI, in another process.

use std::time::Duration;

use crate::state::AppState;

/// Chunks sent per embeddings request.
const BATCH: usize = 32;

/// Runs until the process ends. Errors back off and retry; a chunk that is
/// never embedded is still found by full-text search.
pub async fn run(app: AppState) {
    let Some(embedder) = app.embedder.clone() else { return };
    let idle = Duration::from_millis(app.config.openai.embedding_poll_ms.max(100));
    let mut backoff = Duration::from_secs(1);
    loop {
        let batch = match app.store.chunks_to_embed(&embedder.model, BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list chunks to embed");
                tokio::time::sleep(idle).await;
                continue;
            }
        };
        if batch.is_empty() {
            tokio::time::sleep(idle).await;
            continue;
        }
        let texts: Vec<String> = batch.iter().map(|(_, text)| text.clone()).collect();
        match embedder.embed(&texts).await {
            Ok(vectors) => {
                let rows = batch.into_iter().map(|(id, _)| id).zip(vectors).collect();
                match app.store.save_embeddings(&embedder.model, rows).await {
                    Ok(()) => backoff = Duration::from_secs(1),
                    Err(e) => tracing::warn!(error = %e, "cannot save embeddings"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_secs = backoff.as_secs(), "embedding failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(300));
            }
        }
    }
}
