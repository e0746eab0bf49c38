//! The ACME client's HTTP: our reqwest client (public roots built in, so it
//! works in an empty container), plus any roots `tls.acme_ca_bundle` names.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use warp::hyper::body::Bytes;

use super::TlsError;

#[derive(Clone)]
pub struct AcmeHttp(reqwest::Client);

impl AcmeHttp {
    pub fn new(extra_roots: &[rustls::pki_types::CertificateDer<'static>]) -> Result<AcmeHttp, TlsError> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")));
        for root in extra_roots {
            let root = reqwest::Certificate::from_der(root.as_ref())
                .map_err(|e| TlsError::Config(format!("tls.acme_ca_bundle: {e}")))?;
            builder = builder.add_root_certificate(root);
        }
        builder.build().map(AcmeHttp).map_err(|e| TlsError::Config(format!("ACME HTTP client: {e}")))
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>>;

impl HttpClient for AcmeHttp {
    fn request(&self, request: warp::http::Request<BodyWrapper<Bytes>>) -> Answer {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let mut answer = warp::http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = response.bytes().await.map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let answer = answer.body(Full::new(bytes)).map_err(instant_acme::Error::Http)?;
            Ok(BytesResponse::from(answer))
        })
    }
}
