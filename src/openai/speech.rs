//! Text to speech through any OpenAI-compatible `/audio/speech` endpoint:
//! the voice samples on the owner's voice page (calls themselves speak
//! through the Realtime session, not through here).

use std::time::Duration;

use serde_json::json;

/// OpenAI refuses longer inputs.
pub const MAX_INPUT_CHARS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("speech request failed: {0}")]
    Http(String),
    /// The provider's own message (OpenAI: `{"error": {"message": …}}`).
    #[error("speech endpoint answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("speech endpoint answered without audio")]
    Empty,
}

#[derive(Clone)]
pub struct Speech {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    pub model: String,
}

impl Speech {
    pub fn new(base_url: &str, api_key: &str, model: &str, timeout: Duration) -> Self {
        Speech {
            http: super::http_client(Some(timeout)),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
        }
    }

    /// MP3 audio of `text` spoken by `voice`.
    pub async fn synthesize(&self, voice: &str, text: &str) -> Result<Vec<u8>, SpeechError> {
        let input: String = text.chars().take(MAX_INPUT_CHARS).collect();
        let res = self
            .http
            .post(format!("{}/audio/speech", self.base_url))
            .bearer_auth(&self.api_key)
            .json(&json!({ "model": self.model, "voice": voice, "input": input, "response_format": "mp3" }))
            .send()
            .await
            .map_err(|e| SpeechError::Http(e.without_url().to_string()))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| SpeechError::Http(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(SpeechError::Status { status: status.as_u16(), message: error_message(&body) });
        }
        if body.is_empty() {
            return Err(SpeechError::Empty);
        }
        Ok(body.to_vec())
    }
}

/// OpenAI's `error.message`, else the start of the body.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_read_from_openai_errors_or_the_body() {
        let body = br#"{"error":{"message":"Invalid voice","type":"invalid_request_error"}}"#;
        assert_eq!(error_message(body), "Invalid voice");
        assert_eq!(error_message(b"bad gateway"), "bad gateway");
    }
}
