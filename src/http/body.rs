//! Reading request bodies, the one way every route does it: at most `max`
//! bytes (a larger `Content-Length` is refused before a byte is read),
//! chunked or not, and whole within a deadline, so a client that stalls
//! mid-body cannot hold memory and a connection forever.

use std::time::Duration;

use futures_util::StreamExt;
use warp::hyper::body::{Buf, Bytes};
use warp::{Filter, Rejection};

use crate::error::ApiError;

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than this many bytes (by its `Content-Length`, or as it arrived).
    TooLarge(u64),
    /// Not received whole in time.
    Timeout,
    /// The connection broke mid-body.
    Broken,
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge(max) => {
                ApiError::TooLarge(format!("request body too large (at most {max} bytes)"))
            }
            BodyError::Timeout => ApiError::RequestTimeout("the request body did not arrive in time".into()),
            BodyError::Broken => ApiError::BadRequest("the request body was cut off".into()),
        }
    }
}

/// Reads `stream` whole: refused at once when `length` says it is over
/// `max`, stopped as soon as it grows past `max`, and given up after `deadline`.
pub async fn read<S, B>(
    stream: S,
    length: Option<u64>,
    max: u64,
    deadline: Duration,
) -> Result<Bytes, BodyError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    if length.is_some_and(|l| l > max) {
        return Err(BodyError::TooLarge(max));
    }
    match tokio::time::timeout(deadline, collect(stream, max)).await {
        Ok(result) => result,
        Err(_) => Err(BodyError::Timeout),
    }
}

async fn collect<S, B>(mut stream: S, max: u64) -> Result<Bytes, BodyError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|_| BodyError::Broken)?;
        if out.len() as u64 + chunk.remaining() as u64 > max {
            return Err(BodyError::TooLarge(max));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(Bytes::from(out))
}

/// The body of a request as bytes, read by [`read`]; rejects with 413, 408 or 400.
pub fn limited(max: u64, deadline: Duration) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length").and(warp::body::stream()).and_then(
        move |length: Option<u64>, stream| async move {
            read(Box::pin(stream), length, max, deadline)
                .await
                .map_err(|e| warp::reject::custom(ApiError::from(e)))
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl futures_util::Stream<Item = Result<Bytes, warp::Error>> + Unpin {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn reads_whole_refuses_large_and_stalled_bodies() {
        let second = Duration::from_secs(1);
        assert_eq!(read(chunks(&[b"ab", b"cd"]), None, 4, second).await.unwrap(), "abcd");
        // By its Content-Length, before reading.
        assert_eq!(read(chunks(&[]), Some(5), 4, second).await, Err(BodyError::TooLarge(4)));
        // Chunked (no length), growing past the limit.
        assert_eq!(read(chunks(&[b"abc", b"de"]), None, 4, second).await, Err(BodyError::TooLarge(4)));
        let stalled = futures_util::stream::pending::<Result<Bytes, warp::Error>>();
        let short = Duration::from_millis(50);
        assert_eq!(read(stalled, Some(3), 4, short).await, Err(BodyError::Timeout));
    }
}
