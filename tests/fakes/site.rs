//! A small website served by the test itself on 127.0.0.1: pages the test
//! sets (and changes), redirects, any status, and a log of what was asked
//! for. One request per connection; enough for a crawler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
pub enum Reply {
    /// 200 with a content type and body.
    Page(&'static str, Vec<u8>),
    /// 302 to a location.
    Redirect(String),
    /// A bare status.
    Status(u16),
}

#[derive(Clone, Default)]
pub struct Site {
    pages: Arc<Mutex<HashMap<String, Reply>>>,
    log: Arc<Mutex<Vec<String>>>,
    pub base: String,
}

impl Site {
    pub async fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let site = Site { base, ..Site::default() };
        let served = site.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let site = served.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 2048];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                    site.log.lock().unwrap().push(path.clone());
                    let reply = site.pages.lock().unwrap().get(&path).cloned().unwrap_or(Reply::Status(404));
                    let (status, headers, body) = match reply {
                        Reply::Page(ct, body) => (200, format!("Content-Type: {ct}\r\n"), body),
                        Reply::Redirect(to) => (302, format!("Location: {to}\r\n"), Vec::new()),
                        Reply::Status(s) => (s, String::new(), Vec::new()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        site
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.pages.lock().unwrap().insert(path.to_string(), reply);
    }

    pub fn html(&self, path: &str, html: &str) {
        self.set(path, Reply::Page("text/html; charset=utf-8", html.as_bytes().to_vec()));
    }

    pub fn remove(&self, path: &str) {
        self.pages.lock().unwrap().remove(path);
    }

    /// The paths asked for so far.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// A sitemap listing these URLs.
    pub fn sitemap(&self, urls: &[String]) {
        let locs: String = urls.iter().map(|u| format!("<url><loc>{u}</loc></url>")).collect();
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>"#
        );
        self.set("/sitemap.xml", Reply::Page("application/xml", xml.into_bytes()));
    }
}

/// A page with the usual boilerplate around its text.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>{title}</title><script>var tracking = "nav-secret";</script></head>
<body><header><a href="/">Home</a> <a href="/prices">Prices</a></header>
<nav><a href="/about">About us</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all?</div>
<main><h1>{title}</h1>{body}</main>
<footer>© Acme Plumbing. All rights reserved.</footer></body></html>"#
    )
}
