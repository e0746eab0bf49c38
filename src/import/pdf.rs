//! PDF text layers (lopdf). A page without text (a scan) is named, not
//! silently skipped; a PDF with no text at all is refused with the reason.

use super::text::{ExtractError, Extracted};

/// Decompressed content one page may expand to (a zip-bomb guard).
const MAX_PAGE_CONTENT_BYTES: usize = 64 * 1024 * 1024;

pub fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let doc = lopdf::Document::load_mem(bytes)
        .map_err(|e| ExtractError::Unreadable(format!("this PDF cannot be read ({e})")))?;
    let mut content = String::new();
    let mut blank = Vec::new();
    let pages = doc.get_pages();
    for &number in pages.keys() {
        let text = doc.extract_text_with_limit(&[number], MAX_PAGE_CONTENT_BYTES).unwrap_or_default();
        let text = page_paragraphs(&text);
        if text.is_empty() {
            blank.push(number);
            continue;
        }
        content.push_str(&text);
        content.push_str("\n\n");
    }
    if content.is_empty() {
        return Err(ExtractError::NoText(format!(
            "this PDF has no text layer on any of its {} page(s) — probably scanned images; \
             export it with text (or run it through OCR) and import it again",
            pages.len()
        )));
    }
    let note = (!blank.is_empty()).then(|| {
        let list: Vec<String> = blank.iter().map(u32::to_string).collect();
        format!("page(s) {} have no text layer (scanned images?) and were left out", list.join(", "))
    });
    Ok(Extracted { title: None, content, note })
}

/// A page's text with its lines tidied: runs of spaces squashed, blank
/// lines kept as paragraph breaks.
fn page_paragraphs(text: &str) -> String {
    let mut out = String::new();
    let mut blank_run = false;
    for line in text.lines() {
        let line = super::text::squash(line);
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if blank_run {
            out.push_str("\n\n");
            blank_run = false;
        } else if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}
