//! Hybrid retrieval: chunks embedded in the background through an
//! OpenAI-compatible embeddings endpoint, fused with full-text ranking.

use std::time::{Duration, Instant};

use frontdesk::ids::BusinessId;
use frontdesk::store::KnowledgeQuery;

use crate::support::chat::Chat;
use crate::support::fake_openai::{concept_vector, FakeOpenAi};

#[tokio::test]
async fn embeddings_find_what_full_text_cannot() {
    let (_fake, base) = FakeOpenAi::start(Vec::new()).await;
    let chat = Chat::start_with(&[
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_CHAT_MODEL", ""),
        ("OPENAI_EMBEDDING_MODEL", "concepts-16"),
        ("OPENAI_EMBEDDING_POLL_MS", "100"),
    ]);
    // The server embeds every chunk in the background.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let chunks = chat.fd.sql_i64("SELECT COUNT(*) FROM knowledge_chunks");
        let embedded =
            chat.fd.sql_i64("SELECT COUNT(*) FROM knowledge_chunk_embeddings WHERE model = 'concepts-16'");
        if chunks > 0 && chunks == embedded {
            break;
        }
        assert!(Instant::now() < deadline, "chunks were not embedded ({embedded}/{chunks})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let store = chat.store();
    let text_only = KnowledgeQuery { text: "anything on the sabbath?".into(), embedding: None, limit: 3 };
    assert!(
        store.search_knowledge(&BusinessId::from(&chat.business_id), &text_only).await.unwrap().is_empty(),
        "no shared word"
    );
    let hybrid = KnowledgeQuery {
        embedding: Some(("concepts-16".into(), concept_vector("anything on the sabbath?"))),
        ..text_only.clone()
    };
    let found = store.search_knowledge(&BusinessId::from(&chat.business_id), &hybrid).await.unwrap();
    assert_eq!(found[0].title, "Opening hours", "{found:?}");

    // Both rankings agree on a price question; fusion keeps it first.
    let q = "what is the service call fee";
    let fused = KnowledgeQuery {
        text: q.into(),
        embedding: Some(("concepts-16".into(), concept_vector(q))),
        limit: 3,
    };
    assert_eq!(
        store.search_knowledge(&BusinessId::from(&chat.business_id), &fused).await.unwrap()[0].title,
        "Prices"
    );

    // Through the chat, the question is embedded too and answered.
    let mut s = None;
    let a = chat.say(&mut s, "Do you work on the sabbath?").await;
    assert!(a["reply"].as_str().unwrap().contains("Saturdays"), "{a}");
}
