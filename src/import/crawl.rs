//! A crawl of the business's own website: robots.txt first (obeyed, its
//! Crawl-delay honoured), then the pages its sitemap lists, or, without a
//! sitemap, the same-site links followed from the home page; at most N
//! pages, one at a time, with a pause between fetches.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use url::Url;

use super::fetch::{FetchError, Fetcher, ROBOTS_AGENT};
use crate::domain::KnowledgeDoc;

/// Sitemaps read (an index and the sitemaps it names).
const MAX_SITEMAPS: usize = 5;

/// What a crawl found.
#[derive(Debug, Default)]
pub struct Crawl {
    pub pages: Vec<KnowledgeDoc>,
    /// URL → why it was not imported.
    pub skipped: BTreeMap<String, String>,
    /// Some page failed for a reason that says nothing about whether it
    /// still exists (timeout, 5xx): vanished pages must not be removed.
    pub incomplete: bool,
}

/// How a crawl goes.
#[derive(Debug, Clone, Copy)]
pub struct CrawlLimits {
    pub max_pages: usize,
    pub delay: Duration,
}

/// The site a URL belongs to: scheme, host and port ("https://acme.example").
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn same_site(url: &Url, origin_str: &str) -> bool {
    origin(url) == origin_str
}

/// Why `url` is not fetched, if it is not, in the order the checks run: the
/// page limit, another site, the address policy, robots.txt.
fn refusal(
    fetcher: &Fetcher,
    url: &Url,
    site: &str,
    full: bool,
    max_pages: usize,
    robots_allow: bool,
) -> Option<String> {
    if full {
        Some(format!("over the limit of {max_pages} pages"))
    } else if !same_site(url, site) {
        Some("another site".into())
    } else if let Err(e) = fetcher.policy().check(url) {
        Some(e.to_string())
    } else if !robots_allow {
        Some("disallowed by robots.txt".into())
    } else {
        None
    }
}

/// Crawls the site of `home`. `progress` is told each page read (how many
/// so far, and its address) and awaited.
pub async fn crawl_site<F, Fut>(
    fetcher: &Fetcher,
    home: &Url,
    limits: CrawlLimits,
    mut progress: F,
) -> Result<Crawl, FetchError>
where
    F: FnMut(usize, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    fetcher.policy().check(home)?;
    let site = origin(home);
    let mut crawl = Crawl::default();
    let robots = robots(fetcher, home).await;
    let delay = robots
        .as_ref()
        .and_then(|r| r.delay)
        .map_or(limits.delay, |d| limits.delay.max(Duration::from_secs_f32(d.clamp(0.0, 30.0))));
    let allowed = |u: &Url| robots.as_ref().is_none_or(|r| r.allowed(u.as_str()));

    let sitemap_urls = sitemap_pages(fetcher, home, robots.as_ref()).await;
    let from_sitemap = !sitemap_urls.is_empty();
    let mut queue: VecDeque<Url> =
        if from_sitemap { sitemap_urls.into() } else { VecDeque::from([home.clone()]) };
    let mut seen: HashSet<String> = queue.iter().map(|u| u.to_string()).collect();
    let mut imported: HashSet<String> = HashSet::new();
    let mut first = true;

    while let Some(url) = queue.pop_front() {
        let full = crawl.pages.len() >= limits.max_pages;
        if let Some(why) = refusal(fetcher, &url, &site, full, limits.max_pages, allowed(&url)) {
            crawl.skipped.insert(url.to_string(), why);
            continue;
        }
        if !first {
            tokio::time::sleep(delay).await;
        }
        first = false;
        let fetched = match fetcher.get(&url).await {
            Ok(f) if !is_html(&f.content_type) => {
                crawl.skipped.insert(url.to_string(), FetchError::NotHtml(f.content_type).to_string());
                continue;
            }
            Ok(f) if !same_site(&f.url, &site) => {
                crawl.skipped.insert(url.to_string(), "redirects to another site".into());
                continue;
            }
            Ok(f) => f,
            Err(e) => {
                crawl.incomplete |= e.is_transient();
                crawl.skipped.insert(url.to_string(), e.to_string());
                continue;
            }
        };
        let html = String::from_utf8_lossy(&fetched.body);
        if !from_sitemap {
            for link in super::html::links(&html, &fetched.url) {
                if same_site(&link, &site) && is_page_link(&link) && seen.insert(link.to_string()) {
                    queue.push_back(link);
                }
            }
        }
        if !imported.insert(fetched.url.to_string()) {
            continue;
        }
        match page_doc(&html, &fetched.url) {
            Some(doc) => {
                crawl.pages.push(doc);
                progress(crawl.pages.len(), fetched.url.to_string()).await;
            }
            None => {
                crawl.skipped.insert(url.to_string(), "no text".into());
            }
        }
    }
    Ok(crawl)
}

/// One page as a knowledge document, or None when it has no text.
pub fn page_doc(html: &str, url: &Url) -> Option<KnowledgeDoc> {
    let extracted = super::html::extract(html);
    if extracted.content.trim().is_empty() {
        return None;
    }
    let title = extracted
        .title
        .unwrap_or_else(|| url.path().trim_matches('/').to_string())
        .chars()
        .take(200)
        .collect::<String>();
    let title = if title.trim().is_empty() { url.host_str().unwrap_or("page").to_string() } else { title };
    Some(KnowledgeDoc { title, content: extracted.content, source_url: Some(url.to_string()) })
}

fn is_html(content_type: &str) -> bool {
    content_type.is_empty()
        || content_type.starts_with("text/html")
        || content_type.starts_with("application/xhtml")
}

/// Links worth following: not files a page fetch would throw away.
fn is_page_link(url: &Url) -> bool {
    const FILES: &[&str] = &[
        ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".zip", ".mp4", ".mp3", ".css", ".js",
        ".ico", ".docx", ".xml",
    ];
    let path = url.path().to_ascii_lowercase();
    matches!(url.scheme(), "http" | "https") && !FILES.iter().any(|f| path.ends_with(f))
}

struct Robots {
    robot: texting_robots::Robot,
    delay: Option<f32>,
}

impl Robots {
    fn allowed(&self, url: &str) -> bool {
        self.robot.allowed(url)
    }
}

/// The site's robots.txt rules for us; None (everything allowed) when it has none.
async fn robots(fetcher: &Fetcher, home: &Url) -> Option<Robots> {
    let url = home.join("/robots.txt").ok()?;
    let fetched = fetcher.get(&url).await.ok()?;
    let robot = texting_robots::Robot::new(ROBOTS_AGENT, &fetched.body).ok()?;
    let delay = robot.delay;
    Some(Robots { robot, delay })
}

/// Page URLs from the sitemaps robots.txt names, else /sitemap.xml.
async fn sitemap_pages(fetcher: &Fetcher, home: &Url, robots: Option<&Robots>) -> Vec<Url> {
    let mut sitemaps: VecDeque<Url> = robots
        .map(|r| r.robot.sitemaps.iter().filter_map(|s| Url::parse(s).ok()).collect())
        .unwrap_or_default();
    if sitemaps.is_empty() {
        sitemaps.extend(home.join("/sitemap.xml").ok());
    }
    let site = origin(home);
    let mut pages = Vec::new();
    let mut seen = HashSet::new();
    let mut read = 0;
    while let Some(map) = sitemaps.pop_front() {
        if read >= MAX_SITEMAPS || !same_site(&map, &site) {
            continue;
        }
        read += 1;
        let Ok(fetched) = fetcher.get(&map).await else { continue };
        let (locs, nested) = sitemap_locs(&fetched.body);
        sitemaps.extend(nested.iter().filter_map(|l| Url::parse(l).ok()));
        for loc in locs {
            if let Ok(mut u) = Url::parse(&loc) {
                u.set_fragment(None);
                if seen.insert(u.to_string()) {
                    pages.push(u);
                }
            }
        }
    }
    pages
}

/// A sitemap's page <loc>s, and the sitemaps a sitemap index names.
pub fn sitemap_locs(xml: &[u8]) -> (Vec<String>, Vec<String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let (mut pages, mut maps) = (Vec::new(), Vec::new());
    let mut in_sitemap = false;
    let mut in_loc = false;
    let mut buf = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"sitemap" => in_sitemap = true,
                b"loc" => {
                    in_loc = true;
                    text.clear();
                }
                _ => {}
            },
            Ok(Event::Text(t)) if in_loc => text.push_str(&t.decode().unwrap_or_default()),
            Ok(Event::GeneralRef(r)) if in_loc => {
                if let Some(v) = quick_xml::escape::resolve_xml_entity(&String::from_utf8_lossy(&r)) {
                    text.push_str(v);
                }
            }
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                b"sitemap" => in_sitemap = false,
                b"loc" => {
                    in_loc = false;
                    let loc = text.trim().to_string();
                    if !loc.is_empty() {
                        if in_sitemap {
                            maps.push(loc)
                        } else {
                            pages.push(loc)
                        }
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    (pages, maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sitemaps_and_indexes() {
        let map = br#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <url><loc>http://a.test/</loc></url><url><loc> http://a.test/p?x=1&amp;y=2 </loc></url></urlset>"#;
        assert_eq!(
            sitemap_locs(map),
            (vec!["http://a.test/".into(), "http://a.test/p?x=1&y=2".into()], vec![])
        );
        let index = br#"<sitemapindex><sitemap><loc>http://a.test/s1.xml</loc></sitemap></sitemapindex>"#;
        assert_eq!(sitemap_locs(index), (vec![], vec!["http://a.test/s1.xml".into()]));
    }
}
