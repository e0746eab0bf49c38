//! Reading a request for the pages: path, query, headers, client address,
//! the body up to a limit, and a multipart form's fields and files.

use std::net::SocketAddr;

use warp::http::{header, HeaderMap, Method};
use warp::hyper::body::Bytes;
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::http::body::BodyError;
use crate::http::client_ip::client_ip_text;
use crate::state::AppState;
use crate::web::auth;
use crate::web::input::Input;

/// Largest request body read: a file to import (10 MB) and the form around
/// it, with room so a slightly larger file still gets a clear message.
pub const MAX_BODY_BYTES: u64 = 12 * 1024 * 1024;
/// Largest body read before the caller is known (sign-in and setup forms).
pub const ANONYMOUS_BODY_BYTES: u64 = 64 * 1024;
const PAGE_PREFIXES: &[&str] = &[
    "setup",
    "login",
    "logout",
    "forgot-password",
    "dashboard",
    "leads",
    "settings",
    "knowledge",
    "analytics",
    "analytics.csv",
    "account",
    "operator",
    "static",
    // `/admin/upgrade`: the original design's upgrade link.
    "admin",
];

/// A request as the pages see it.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub ip: String,
    pub body: Bytes,
    /// Why the body was not read (larger than allowed, or too slow).
    pub body_error: Option<BodyError>,
    /// A multipart form's fields and files, read once.
    pub multipart: Option<(Input, Vec<Upload>)>,
}

/// A file sent with a form.
pub struct Upload {
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl Req {
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    pub fn query_input(&self) -> Input {
        Input::from_urlencoded(self.query.as_bytes())
    }

    /// The form's fields, urlencoded or multipart.
    pub fn form(&self) -> Input {
        match &self.multipart {
            Some((input, _)) => input.clone(),
            None => Input::from_urlencoded(&self.body),
        }
    }

    /// The file sent as `field`, if one was chosen.
    pub fn upload(&self, field: &str) -> Option<(&str, &[u8])> {
        let (_, files) = self.multipart.as_ref()?;
        files
            .iter()
            .find(|f| f.field == field && !f.filename.is_empty())
            .map(|f| (f.filename.as_str(), f.bytes.as_slice()))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

fn is_page_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    first.is_empty() || PAGE_PREFIXES.contains(&first)
}

/// A request read whole: where both the pages and the JSON API start.
pub struct Raw {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    /// The client's address (see `http::client_ip`).
    pub ip: String,
    pub body: Bytes,
    /// Why the body was not read (too large, too slow), if it was not.
    pub body_error: Option<BodyError>,
}

/// How many body bytes a request may send, decided from its head before
/// anything is read: only a signed-in caller gets the large limit.
pub type BodyLimit = fn(&AppState, &HeaderMap) -> u64;

/// The requests whose path `accept` claims, with bodies read up to what `limit` allows.
pub fn raw(
    app: AppState,
    accept: fn(&str) -> bool,
    limit: BodyLimit,
) -> impl Filter<Extract = (Raw,), Error = Rejection> + Clone {
    let trusted = app.config.server.trusted_proxies.clone();
    warp::path::full()
        .and_then(move |p: FullPath| async move {
            if accept(p.as_str()) {
                Ok(p)
            } else {
                Err(warp::reject::not_found())
            }
        })
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(crate::http::peer_addr())
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .then(
            move |path: FullPath,
                  method,
                  query,
                  headers: HeaderMap,
                  remote: Option<SocketAddr>,
                  length: Option<u64>,
                  body| {
                let app = app.clone();
                let trusted = trusted.clone();
                async move {
                    let ip = client_ip_text(remote, &headers, &trusted);
                    let max = limit(&app, &headers);
                    let (body, body_error) =
                        match crate::http::body::read(Box::pin(body), length, max, app.body_deadline()).await
                        {
                            Ok(body) => (body, None),
                            Err(e) => (Bytes::new(), Some(e)),
                        };
                    Raw { method, path: path.as_str().to_string(), query, headers, ip, body, body_error }
                }
            },
        )
}

/// Pages: large bodies (uploads) only with a session cookie that checks out.
fn page_body_limit(app: &AppState, headers: &HeaderMap) -> u64 {
    let signed_in =
        auth::cookie(headers, auth::SESSION_COOKIE).is_some_and(|t| auth::decode(app, t, "web").is_some());
    if signed_in {
        MAX_BODY_BYTES
    } else {
        ANONYMOUS_BODY_BYTES
    }
}

pub fn routes(app: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    raw(app.clone(), is_page_path, page_body_limit).then(move |raw: Raw| {
        let app = app.clone();
        async move {
            let multipart =
                match multer::parse_boundary(header_str(&raw.headers, "content-type").unwrap_or_default()) {
                    Ok(boundary) if raw.body_error.is_none() => {
                        read_multipart(raw.body.clone(), boundary).await
                    }
                    _ => None,
                };
            let Raw { method, path, query, headers, ip, body, body_error } = raw;
            let req = Req { method, path, query, headers, ip, body, body_error, multipart };
            super::handle(app, req).await
        }
    })
}

pub(super) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The fields and files of a multipart body (None when it is malformed).
async fn read_multipart(body: Bytes, boundary: String) -> Option<(Input, Vec<Upload>)> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut fields, mut files) = (Vec::new(), Vec::new());
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let bytes = field.bytes().await.ok()?.to_vec();
                files.push(Upload { field: name, filename, bytes });
            }
            None => fields.push((name, field.text().await.ok()?)),
        }
    }
    Some((Input::from_pairs(fields), files))
}
