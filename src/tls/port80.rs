//! The plain-HTTP port when TLS is on: answers ACME HTTP-01 challenges, and
//! sends everything else to https with a 308 (method and body kept) once a
//! certificate for the host is in place. Before that (a fresh install whose
//! DNS is not pointed here yet) the app itself is served, so the operator can
//! reach `/health` and the setup page while the certificate is pending.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hyper::body::Incoming;
use warp::http::{header, HeaderValue, Request, StatusCode};
use warp::reply::Response;

use super::Tls;
use crate::http::conn::{AppService, BoxResponse, ConnService};

const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// HTTP-01 answers: token → key authorization.
#[derive(Debug, Default)]
pub struct Http01(RwLock<HashMap<String, String>>);

impl Http01 {
    pub fn insert(&self, token: &str, key_authorization: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.to_string(), key_authorization.to_string());
    }

    pub fn remove(&self, token: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).remove(token);
    }

    fn get(&self, token: &str) -> Option<String> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(token).cloned()
    }
}

#[derive(Clone)]
pub struct HttpPort<S> {
    pub app: ConnService<S>,
    pub tls: Arc<Tls>,
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

impl<S: AppService> hyper::service::Service<Request<Incoming>> for HttpPort<S> {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = BoxResponse;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        if let Some(token) = request.uri().path().strip_prefix(CHALLENGE_PATH) {
            let answer = match self.tls.http01.get(token) {
                Some(key_authorization) => text(StatusCode::OK, key_authorization),
                None => text(StatusCode::NOT_FOUND, "no such challenge".into()),
            };
            return Box::pin(async move { Ok(answer) });
        }
        match self.tls.redirect(&request) {
            Some(location) => {
                let mut response = text(StatusCode::PERMANENT_REDIRECT, format!("moved to {location}\n"));
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                Box::pin(async move { Ok(response) })
            }
            None => hyper::service::Service::call(&self.app, request),
        }
    }
}

/// The host a request names (Host header, else the URI), lower case, no port.
pub fn request_host(request: &Request<Incoming>) -> Option<String> {
    let raw = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))?;
    let host = crate::config::parse_public_host(&raw).ok()?;
    Some(crate::config::without_port(&host).to_string())
}
