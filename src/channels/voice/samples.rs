//! "Listen" samples for the owner's voice page: the business's greeting
//! spoken in each realtime voice. Each is synthesised once through the
//! configured OpenAI-compatible `/audio/speech` endpoint (the same base URL
//! and key as every other OpenAI request) and kept in the data directory,
//! private like the rest of it (folders 0700, files 0600), one file per
//! business, voice and greeting. Twilio's `<Say>` voices have no such
//! endpoint: they are only heard on a call (see `test_call`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::channels::engine;
use crate::domain::REALTIME_VOICES;
use crate::error::ApiError;
use crate::ids::BusinessId;
use crate::openai::speech::{Speech, SpeechError};
use crate::state::AppState;

/// Shown instead of the samples when there is no provider to make them.
pub const NO_KEY_NOTE: &str = "Voice samples need an OpenAI key, and none is set on this server. The operator \
     adds one (OPENAI_API_KEY); until then, calls are answered turn by turn in the Twilio voice chosen below.";

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("{NO_KEY_NOTE}")]
    NoKey,
    #[error("there is no voice called {0}")]
    UnknownVoice(String),
    #[error("too many new voice samples in the last hour: try again later")]
    TooMany,
    #[error("the voice service could not make this sample: {0}")]
    Speech(#[from] SpeechError),
    #[error("could not keep the sample: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Engine(#[from] engine::TurnError),
}

impl From<SampleError> for ApiError {
    fn from(e: SampleError) -> Self {
        match e {
            SampleError::NoKey => ApiError::NotFound(e.to_string()),
            SampleError::UnknownVoice(_) => ApiError::NotFound(e.to_string()),
            SampleError::TooMany => ApiError::TooManyRequests(e.to_string()),
            SampleError::Speech(_) => ApiError::Unavailable(e.to_string()),
            SampleError::Io(e) => ApiError::Internal(format!("voice sample: {e}")),
            SampleError::Engine(e) => e.into(),
        }
    }
}

/// Whether samples can be made on this instance.
pub fn available(app: &AppState) -> bool {
    !app.config.openai.api_key.is_empty() && !app.config.voice.speech_model.is_empty()
}

/// The MP3 sample of `voice` for a business, from the cache or made now.
pub async fn sample(app: &AppState, business_id: &BusinessId, voice: &str) -> Result<Vec<u8>, SampleError> {
    if !REALTIME_VOICES.contains(&voice) {
        return Err(SampleError::UnknownVoice(voice.chars().take(40).collect()));
    }
    let ctx = engine::context(app, business_id).await?;
    let text = crate::agent::voice::greeting(&ctx);
    let model = &app.config.voice.speech_model;
    let dir = folder(&app.config.data_dir, business_id);
    let path = dir.join(file_name(model, voice, &text));
    if let Some(audio) = read(&path).await? {
        return Ok(audio);
    }
    if !available(app) {
        return Err(SampleError::NoKey);
    }
    let lock = app.voice.samples.locks.get_with(format!("{business_id}/{voice}"), Default::default);
    let _held = lock.lock().await;
    // Made by the request this one waited for.
    if let Some(audio) = read(&path).await? {
        return Ok(audio);
    }
    if !app.voice.samples.budget.allow(business_id).await {
        return Err(SampleError::TooMany);
    }
    let openai = &app.config.openai;
    let speech = Speech::new(&openai.base_url, openai.api_key.expose(), model, Duration::from_secs(30));
    let audio = speech.synthesize(voice, &text).await?;
    tracing::info!(%business_id, voice, bytes = audio.len(), "voice sample made");
    let (keep, written) = (audio.clone(), path.clone());
    tokio::task::spawn_blocking(move || store(&dir, &written, &keep))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    Ok(audio)
}

/// `{data_dir}/voice-samples/{business}`; an id with other characters than
/// letters, digits, `-` and `_` is hashed so it can never leave the folder.
fn folder(data_dir: &Path, business_id: &str) -> PathBuf {
    let safe = !business_id.is_empty()
        && business_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let name = if safe {
        business_id.to_string()
    } else {
        hex(&Sha256::digest(business_id.as_bytes()))[..32].into()
    };
    data_dir.join("voice-samples").join(name)
}

/// `{voice}-{hash of model, voice and text}.mp3`: a new greeting or model
/// is a new file.
fn file_name(model: &str, voice: &str, text: &str) -> String {
    let digest = Sha256::digest(format!("{model}\n{voice}\n{text}").as_bytes());
    format!("{voice}-{}.mp3", &hex(&digest)[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match tokio::fs::read(path).await {
        Ok(audio) if !audio.is_empty() => Ok(Some(audio)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the sample privately and removes this voice's older samples
/// (made for an earlier greeting).
fn store(dir: &Path, path: &Path, audio: &[u8]) -> std::io::Result<()> {
    crate::files::private_dir(dir)?;
    crate::files::write_private(path, audio)?;
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Ok(()) };
    let Some((voice, _)) = name.split_once('-') else { return Ok(()) };
    for entry in std::fs::read_dir(dir)?.flatten() {
        let other = entry.file_name();
        let other = other.to_string_lossy();
        if other != name && other.starts_with(&format!("{voice}-")) && other.ends_with(".mp3") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_change_with_the_greeting_and_stay_inside_the_folder() {
        let a = file_name("gpt-4o-mini-tts", "marin", "Hello");
        assert!(a.starts_with("marin-") && a.ends_with(".mp3"), "{a}");
        assert_ne!(a, file_name("gpt-4o-mini-tts", "marin", "Hello there"));
        assert_ne!(a, file_name("tts-1", "marin", "Hello"));
        let data = Path::new("/data");
        assert_eq!(folder(data, "b-1_x"), Path::new("/data/voice-samples/b-1_x"));
        let odd = folder(data, "../../etc");
        assert_eq!(odd.parent().unwrap(), Path::new("/data/voice-samples"));
        assert!(!odd.to_string_lossy().contains(".."));
    }

    #[cfg(unix)]
    #[test]
    fn samples_are_private_and_older_ones_are_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("voice-samples/b1");
        let first = dir.join(file_name("m", "marin", "one"));
        store(&dir, &first, b"ID3 one").unwrap();
        let other_voice = dir.join(file_name("m", "cedar", "one"));
        store(&dir, &other_voice, b"ID3 cedar").unwrap();
        let second = dir.join(file_name("m", "marin", "two"));
        store(&dir, &second, b"ID3 two").unwrap();
        assert!(!first.exists(), "the sample of the old greeting is gone");
        assert!(other_voice.exists() && second.exists());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&second), 0o600);
    }
}
