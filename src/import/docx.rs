//! Word documents (DOCX): the body of `word/document.xml`, read with a zip
//! reader and an XML reader. Paragraphs styled as headings (Heading1…6,
//! Title) become heading lines; tables become one readable line per row.

use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};

use super::text::{squash, table_lines, ExtractError, Extracted};

/// Largest `document.xml` unpacked (a zip-bomb guard).
const MAX_XML_BYTES: u64 = 64 * 1024 * 1024;

pub fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let unreadable = |e: String| ExtractError::Unreadable(format!("this Word file cannot be read ({e})"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(e.to_string()))?;
    let file = archive
        .by_name("word/document.xml")
        .map_err(|_| unreadable("no word/document.xml: is it a .docx?".into()))?;
    let mut xml = Vec::new();
    file.take(MAX_XML_BYTES).read_to_end(&mut xml).map_err(|e| unreadable(e.to_string()))?;
    parse_document(&xml).map_err(unreadable)
}

/// Where the reader is inside the body.
#[derive(Default)]
struct State {
    out: Vec<String>,
    title: Option<String>,
    /// The paragraph being read and its heading level (0: body text).
    paragraph: String,
    level: usize,
    /// Tables being read (nested ones are read as text of their cell).
    table_depth: usize,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: String,
}

impl State {
    fn end_paragraph(&mut self) {
        let text = squash(&std::mem::take(&mut self.paragraph));
        let level = std::mem::take(&mut self.level);
        if text.is_empty() {
            return;
        }
        if self.table_depth > 0 {
            if !self.cell.is_empty() {
                self.cell.push(' ');
            }
            self.cell.push_str(&text);
        } else if level > 0 {
            if level == 1 && self.title.is_none() {
                self.title = Some(text.clone());
            }
            self.out.push(format!("{} {text}", "#".repeat(level.min(6))));
        } else {
            self.out.push(text);
        }
    }
}

/// Heading level of a paragraph style ("Heading2" → 2, "Title" → 1).
fn heading_level(style: &str) -> usize {
    let lower = style.to_ascii_lowercase();
    if lower == "title" {
        return 1;
    }
    lower
        .strip_prefix("heading")
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|n| (1..=6).contains(n))
        .unwrap_or(0)
}

fn attr(e: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn parse_document(xml: &[u8]) -> Result<Extracted, String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut s = State::default();
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| e.to_string())?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"t" => in_text = true,
                b"tbl" => s.table_depth += 1,
                b"tr" if s.table_depth == 1 => s.row.clear(),
                b"tc" if s.table_depth == 1 => s.cell.clear(),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"pStyle" => s.level = attr(&e, b"val").map_or(0, |v| heading_level(&v)),
                b"tab" => s.paragraph.push(' '),
                b"br" | b"cr" => s.paragraph.push(' '),
                _ => {}
            },
            Event::Text(t) if in_text => s.paragraph.push_str(&t.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(r) if in_text => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    s.paragraph.push(c);
                } else if let Some(v) = quick_xml::escape::resolve_xml_entity(&String::from_utf8_lossy(&r)) {
                    s.paragraph.push_str(v);
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => s.end_paragraph(),
                b"tc" if s.table_depth == 1 => {
                    let cell = std::mem::take(&mut s.cell);
                    s.row.push(cell);
                }
                b"tr" if s.table_depth == 1 => {
                    let row = std::mem::take(&mut s.row);
                    s.rows.push(row);
                }
                b"tbl" => {
                    s.table_depth = s.table_depth.saturating_sub(1);
                    if s.table_depth == 0 {
                        let rows = std::mem::take(&mut s.rows);
                        let lines = table_lines(&rows);
                        if !lines.is_empty() {
                            s.out.push(lines.join("\n"));
                        }
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(Extracted { title: s.title, content: s.out.join("\n\n"), note: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_and_tables() {
        let xml = br#"<?xml version="1.0"?><w:document xmlns:w="x"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Acme FAQ</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Prices</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Call-out is </w:t></w:r><w:r><w:t>$89 &amp; up.</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Job</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Price</w:t></w:r></w:p></w:tc></w:tr>
            <w:tr><w:tc><w:p><w:r><w:t>Drain</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>$150</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#;
        let got = parse_document(xml).unwrap();
        assert_eq!(got.title.as_deref(), Some("Acme FAQ"));
        assert_eq!(got.content, "# Acme FAQ\n\n## Prices\n\nCall-out is $89 & up.\n\nDrain — Price: $150");
    }
}
