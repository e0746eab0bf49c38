//! Knowledge import speed, on this machine:
//!   cargo bench --bench knowledge_import
//! 1. a 200-page PDF (made here with lopdf, ~40 lines a page): text
//!    extraction, then chunking, embedding by the built-in model and
//!    indexing in one SQLite transaction;
//! 2. a 50-page website crawl from a sitemap, served on loopback by this
//!    process (no pause between fetches: the crawler's own cost), then the
//!    pages brought into the store in one transaction; and a re-crawl with
//!    nothing changed.
//!
//! Prints a markdown table; the README quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Shared with the tests, which use more of them.
#[allow(dead_code)]
#[path = "../tests/fakes/documents.rs"]
mod fake_documents;
#[allow(dead_code)]
#[path = "../tests/fakes/site.rs"]
mod fake_site;

use std::time::{Duration, Instant};

use frontdesk::config::KnowledgeConfig;
use frontdesk::domain::{BusinessBundle, KnowledgeDoc};
use frontdesk::import::{crawl, extract, fetch};
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{AdminStore, ImportStore, Store};

fn bundle() -> BusinessBundle {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
            .unwrap();
    let mut b = frontdesk::provision::parse_bundle(&text).unwrap();
    b.knowledge.clear();
    b
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn pdf_pages(n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|p| {
            (0..40)
                .map(|l| {
                    format!("Page {p} line {l}: drain cleaning, water heaters and repiping for every home.")
                })
                .collect()
        })
        .collect()
}

fn main() {
    frontdesk::agent::local_model::get();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
    let id = rt.block_on(store.import_business(bundle())).unwrap().business_id;
    let mut rows = Vec::new();

    // 1. A 200-page PDF.
    let bytes = fake_documents::pdf(&pdf_pages(200));
    let t = Instant::now();
    let extracted = extract::extract("brochure.pdf", &bytes).unwrap();
    let parse = t.elapsed();
    let doc = KnowledgeDoc { title: "Brochure".into(), content: extracted.content.clone(), source_url: None };
    let t = Instant::now();
    let entry = rt.block_on(store.add_knowledge(&id, doc)).unwrap();
    let index = t.elapsed();
    rows.push(format!(
        "| 200-page PDF ({} KB, {} KB of text, {} chunks) | {} | {} | {} |",
        bytes.len() / 1024,
        extracted.content.len() / 1024,
        entry.chunks,
        ms(parse),
        ms(index),
        ms(parse + index)
    ));

    // 2. A 50-page crawl.
    let (crawl_time, sync_time, again, pages) = rt.block_on(async {
        let site = fake_site::Site::start().await;
        let urls: Vec<String> = (0..50).map(|i| site.url(&format!("/page-{i}"))).collect();
        for i in 0..50 {
            let body: String = (0..12)
                .map(|p| {
                    format!(
                        "<p>Service {i}.{p}: we fix leaks, unblock drains and fit boilers across town.</p>"
                    )
                })
                .collect();
            site.html(&format!("/page-{i}"), &fake_site::page(&format!("Service {i}"), &body));
        }
        site.sitemap(&urls);
        let config = KnowledgeConfig {
            crawl_max_pages: 50,
            crawl_delay_ms: 0,
            crawl_page_bytes: 2 * 1024 * 1024,
            crawl_timeout_secs: 15,
            allow_loopback_crawl: true,
        };
        let fetcher = fetch::Fetcher::new(&config).unwrap();
        let home = url::Url::parse(&site.url("/")).unwrap();
        let limits = crawl::CrawlLimits { max_pages: 50, delay: Duration::ZERO };
        let t = Instant::now();
        let found = crawl::crawl_site(&fetcher, &home, limits, |_, _| async {}).await.unwrap();
        let crawl_time = t.elapsed();
        let pages = found.pages.len();
        let prefix = format!("{}/", crawl::origin(&home));
        let t = Instant::now();
        store.sync_web_documents(&id, found.pages, Some(prefix.clone())).await.unwrap();
        let sync_time = t.elapsed();
        let again = crawl::crawl_site(&fetcher, &home, limits, |_, _| async {}).await.unwrap();
        let t = Instant::now();
        let sync = store.sync_web_documents(&id, again.pages, Some(prefix)).await.unwrap();
        assert_eq!(sync.unchanged as usize, pages);
        (crawl_time, sync_time, t.elapsed(), pages)
    });
    rows.push(format!(
        "| {pages}-page crawl (loopback, no pause) | {} | {} | {} |",
        ms(crawl_time),
        ms(sync_time),
        ms(crawl_time + sync_time)
    ));
    rows.push(format!("| re-crawl, nothing changed (store step) | — | {} | — |", ms(again)));

    println!("| import | read (parse / fetch) | index (one transaction) | total |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
}
