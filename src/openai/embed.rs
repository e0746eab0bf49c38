//! Embeddings from any OpenAI-compatible `/embeddings` endpoint.

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding request failed: {0}")]
    Http(String),
    #[error("embedding endpoint answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("embedding response was malformed: {0}")]
    Protocol(String),
}

#[derive(Clone)]
pub struct Embedder {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    pub model: String,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vector,
}

/// `encoding_format` float gives numbers; some servers answer base64 anyway.
#[derive(Deserialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

impl Embedder {
    pub fn new(base_url: &str, api_key: &str, model: &str, timeout: Duration) -> Self {
        Embedder {
            http: super::http_client(Some(timeout)),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
        }
    }

    /// One vector per input, in input order.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let res = self
            .http
            .post(format!("{}/embeddings", self.base_url))
            .bearer_auth(&self.api_key)
            .json(&json!({ "model": self.model, "input": inputs, "encoding_format": "float" }))
            .send()
            .await
            .map_err(|e| EmbedError::Http(e.without_url().to_string()))?;
        if !res.status().is_success() {
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default().chars().take(300).collect();
            return Err(EmbedError::Status { status, body });
        }
        let mut body: Response = res.json().await.map_err(|e| EmbedError::Protocol(e.to_string()))?;
        if body.data.len() != inputs.len() {
            return Err(EmbedError::Protocol(format!(
                "{} vectors for {} inputs",
                body.data.len(),
                inputs.len()
            )));
        }
        body.data.sort_by_key(|d| d.index);
        body.data.into_iter().map(|d| decode(d.embedding)).collect()
    }
}

fn decode(v: Vector) -> Result<Vec<f32>, EmbedError> {
    match v {
        Vector::Floats(f) => Ok(f),
        Vector::Base64(s) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|e| EmbedError::Protocol(e.to_string()))?;
            if bytes.len() % 4 != 0 {
                return Err(EmbedError::Protocol("base64 vector is not whole float32s".into()));
            }
            Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors_are_little_endian_f32() {
        let floats = [0.5f32, -1.25, 3.0];
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(decode(Vector::Base64(b64)).unwrap(), floats);
        assert!(decode(Vector::Base64("AAA=".into())).is_err(), "two bytes are not a float");
    }
}
