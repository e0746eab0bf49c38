//! Web pages and HTML files (scraper, on html5ever): the page's main text
//! with boilerplate dropped — scripts, styles, navigation, headers and
//! footers, cookie and consent banners — headings as heading lines, tables
//! as readable lines; and the links a crawl follows.

use scraper::{ElementRef, Html, Node, Selector};

use super::text::{squash, table_lines, Extracted};

/// Elements whose text is never knowledge.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "nav", "footer", "aside", "form", "iframe", "button",
    "select", "head", "dialog",
];
/// Elements that end a paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "address",
    "figure",
    "figcaption",
    "hr",
    "body",
    "details",
    "summary",
];
/// Words in an id, class, role or label that mark a banner, menu or popup.
const BOILERPLATE_HINTS: &[&str] =
    &["cookie", "consent", "gdpr", "navbar", "menu", "breadcrumb", "skip-link"];

pub fn extract(html: &str) -> Extracted {
    let doc = Html::parse_document(html);
    let title = select_first(&doc, "title").or_else(|| select_first(&doc, "h1"));
    // A page that marks its main content is read from there only.
    let root = Selector::parse("main")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .unwrap_or_else(|| doc.root_element());
    let mut w = Walker::default();
    w.walk(root);
    w.flush();
    Extracted { title, content: w.out.join("\n\n"), note: None }
}

fn select_first(doc: &Html, css: &str) -> Option<String> {
    let sel = Selector::parse(css).ok()?;
    let text = squash(&doc.select(&sel).next()?.text().collect::<String>());
    (!text.is_empty()).then_some(text)
}

#[derive(Default)]
struct Walker {
    out: Vec<String>,
    inline: String,
}

impl Walker {
    fn flush(&mut self) {
        let text = squash(&std::mem::take(&mut self.inline));
        if !text.is_empty() {
            self.out.push(text);
        }
    }

    fn walk(&mut self, el: ElementRef<'_>) {
        for child in el.children() {
            match child.value() {
                Node::Text(t) => self.inline.push_str(t),
                Node::Element(_) => {
                    if let Some(child) = ElementRef::wrap(child) {
                        self.element(child);
                    }
                }
                _ => {}
            }
        }
    }

    fn element(&mut self, el: ElementRef<'_>) {
        let name = el.value().name();
        if is_boilerplate(el) {
            return;
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.flush();
                let level = name[1..].parse::<usize>().unwrap_or(2);
                let text = squash(&el.text().collect::<String>());
                if !text.is_empty() {
                    self.out.push(format!("{} {text}", "#".repeat(level)));
                }
            }
            "table" => {
                self.flush();
                let lines = table_lines(&rows(el));
                if !lines.is_empty() {
                    self.out.push(lines.join("\n"));
                }
            }
            "br" => self.inline.push(' '),
            n if BLOCKS.contains(&n) => {
                self.flush();
                self.walk(el);
                self.flush();
            }
            _ => self.walk(el),
        }
    }
}

fn is_boilerplate(el: ElementRef<'_>) -> bool {
    let e = el.value();
    if SKIPPED.contains(&e.name()) {
        return true;
    }
    // A page header (logo, menu) unless it heads an article.
    if e.name() == "header"
        && !el.ancestors().any(|a| a.value().as_element().is_some_and(|a| a.name() == "article"))
    {
        return true;
    }
    if matches!(e.attr("role"), Some("navigation" | "banner" | "contentinfo" | "dialog" | "alertdialog")) {
        return true;
    }
    if e.attr("hidden").is_some() || e.attr("aria-hidden") == Some("true") {
        return true;
    }
    let marks = [
        e.id().unwrap_or_default().to_ascii_lowercase(),
        e.attr("class").unwrap_or_default().to_ascii_lowercase(),
    ];
    marks.iter().any(|m| BOILERPLATE_HINTS.iter().any(|h| m.contains(h)))
}

/// A table's rows of cell texts (nested tables read as their cell's text).
fn rows(table: ElementRef<'_>) -> Vec<Vec<String>> {
    let (Ok(tr), Ok(cell)) = (Selector::parse("tr"), Selector::parse("th, td")) else { return Vec::new() };
    let own = |e: &ElementRef<'_>| {
        e.ancestors().find(|a| a.value().as_element().is_some_and(|x| x.name() == "table")).map(|a| a.id())
            == Some(table.id())
    };
    table
        .select(&tr)
        .filter(|r| own(r))
        .map(|r| r.select(&cell).filter(|c| own(c)).map(|c| squash(&c.text().collect::<String>())).collect())
        .collect()
}

/// The `href` of every link on the page, resolved against `base`, fragment dropped.
pub fn links(html: &str, base: &url::Url) -> Vec<url::Url> {
    let doc = Html::parse_document(html);
    let Ok(sel) = Selector::parse("a[href]") else { return Vec::new() };
    let base = Selector::parse("base[href]")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| base.join(h).ok())
        .unwrap_or_else(|| base.clone());
    doc.select(&sel)
        .filter_map(|a| a.value().attr("href"))
        .filter_map(|h| base.join(h.trim()).ok())
        .map(|mut u| {
            u.set_fragment(None);
            u
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boilerplate_is_dropped_and_headings_kept() {
        let page = r#"<html><head><title>Acme Plumbing</title><style>p{}</style></head><body>
            <header><a href="/">Logo</a> Home About</header>
            <nav><a href="/prices">Prices</a></nav>
            <div id="cookie-banner">We use cookies. Accept?</div>
            <h1>Our prices</h1><p>Service call   is <b>$89</b>.</p>
            <table><tr><th>Job</th><th>Price</th></tr><tr><td>Drain</td><td>$150</td></tr></table>
            <script>var x = "secret";</script>
            <footer>© Acme 2026</footer></body></html>"#;
        let got = extract(page);
        assert_eq!(got.title.as_deref(), Some("Acme Plumbing"));
        assert_eq!(got.content, "# Our prices\n\nService call is $89.\n\nDrain — Price: $150");
        let links = links(page, &url::Url::parse("http://x.test/a/b").unwrap());
        assert_eq!(
            links.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            ["http://x.test/", "http://x.test/prices"]
        );
    }
}
