//! Compressed responses for clients that ask (`Accept-Encoding: br` or
//! `gzip`): pages, JSON, CSV, the widget script. Server-sent events are never
//! touched (a compressor would hold back the chat reply's words until its
//! buffer filled), nor upgrades, tiny bodies or bodies already encoded.

use std::io::Write;

use http_body_util::BodyExt;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

/// Bodies smaller than this are sent as they are: the headers would cost more.
const MIN_BYTES: usize = 512;
/// Brotli quality for responses made per request (11 is far slower for little gain).
const BROTLI_QUALITY: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to use for an `Accept-Encoding` header: brotli, else gzip,
/// unless the client gives it `q=0`.
pub fn negotiate(accept: Option<&str>) -> Option<Coding> {
    let accept = accept?;
    let wants = |name: &str| {
        accept.split(',').any(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let coding = pieces.next().unwrap_or_default();
            let q = pieces
                .find_map(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            coding.eq_ignore_ascii_case(name) && q > 0.0
        })
    };
    if wants("br") {
        Some(Coding::Brotli)
    } else if wants("gzip") {
        Some(Coding::Gzip)
    } else {
        None
    }
}

fn compressible(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    t.starts_with("text/") && t != "text/event-stream"
        || matches!(
            t.as_str(),
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        )
}

/// `response`, compressed with `coding` when that is worth it.
pub async fn maybe(coding: Option<Coding>, response: Response) -> Response {
    let Some(coding) = coding else { return response };
    let headers = response.headers();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let status = response.status();
    if !compressible(content_type)
        || headers.contains_key(header::CONTENT_ENCODING)
        || status == StatusCode::SWITCHING_PROTOCOLS
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Every compressible response is built in memory: collecting it costs nothing new.
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::warn!(error = %e, "response body failed before compression");
            return Response::from_parts(parts, Vec::<u8>::new().into());
        }
    };
    vary(&mut parts.headers);
    if bytes.len() < MIN_BYTES {
        return Response::from_parts(parts, bytes.to_vec().into());
    }
    let packed = match encode(coding, &bytes) {
        Ok(packed) if packed.len() < bytes.len() => packed,
        _ => return Response::from_parts(parts, bytes.to_vec().into()),
    };
    parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.name()));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(packed.len()));
    Response::from_parts(parts, packed.into())
}

fn vary(headers: &mut warp::http::HeaderMap) {
    let already = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("accept-encoding"));
    if !already {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

pub fn encode(coding: Coding, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            encoder.write_all(bytes)?;
            encoder.finish()
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            {
                let mut writer = brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, 22);
                writer.write_all(bytes)?;
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn brotli_is_preferred_and_refusals_are_respected() {
        assert_eq!(negotiate(Some("gzip, deflate, br")), Some(Coding::Brotli));
        assert_eq!(negotiate(Some("gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0.5")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("identity")), None);
        assert_eq!(negotiate(None), None);
        assert!(compressible("text/html; charset=utf-8") && compressible("application/json"));
        assert!(!compressible("text/event-stream") && !compressible("image/png"));
    }

    #[tokio::test]
    async fn large_text_is_compressed_and_round_trips() {
        let text = "frontdesk answers the phone. ".repeat(100);
        let mut response = Response::new(text.clone().into());
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let packed = maybe(Some(Coding::Gzip), response).await;
        assert_eq!(packed.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(packed.headers()[header::VARY], "Accept-Encoding");
        let bytes = packed.into_body().collect().await.unwrap().to_bytes();
        let mut unpacked = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut unpacked).unwrap();
        assert_eq!(unpacked, text);
        let mut sse = Response::new(text.into());
        sse.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        assert!(maybe(Some(Coding::Brotli), sse).await.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
