//! Files to knowledge text: PDF, DOCX, HTML, Markdown and plain text become
//! paragraphs separated by blank lines, with headings as Markdown heading
//! lines (which the chunker turns into chunk titles) and table rows as
//! readable lines.

/// Largest file an owner may import, bytes (the README's "Limits").
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Unreadable(String),
    #[error("{0}")]
    NoText(String),
    #[error("the file is larger than {} MB", MAX_FILE_BYTES / 1024 / 1024)]
    TooLarge,
}

/// What a file said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The document's own title (HTML <title>, DOCX Title style), if it has one.
    pub title: Option<String>,
    /// Paragraphs separated by blank lines; "## Heading" lines start sections.
    pub content: String,
    /// Something the owner should know although the import worked (PDF pages
    /// without a text layer).
    pub note: Option<String>,
}

/// The kinds of file the importer reads, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Docx,
    Html,
    Markdown,
    Text,
}

impl FileKind {
    pub fn of(name: &str) -> Option<FileKind> {
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
        Some(match ext {
            "pdf" => FileKind::Pdf,
            "docx" => FileKind::Docx,
            "html" | "htm" => FileKind::Html,
            "md" | "markdown" => FileKind::Markdown,
            "txt" | "text" => FileKind::Text,
            _ => return None,
        })
    }
}

/// Reads a file by its name's extension.
pub fn extract(name: &str, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ExtractError::TooLarge);
    }
    let kind = FileKind::of(name).ok_or_else(|| {
        ExtractError::Unsupported(format!(
            "'{name}' is not a file the knowledge base reads (PDF, DOCX, HTML, Markdown or text)"
        ))
    })?;
    let extracted = match kind {
        FileKind::Pdf => super::pdf::extract(bytes)?,
        FileKind::Docx => super::docx::extract(bytes)?,
        FileKind::Html => super::html::extract(&String::from_utf8_lossy(bytes)),
        FileKind::Markdown | FileKind::Text => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ExtractError::Unreadable(format!("'{name}' is not UTF-8 text")))?;
            Extracted { title: None, content: text.replace("\r\n", "\n"), note: None }
        }
    };
    if extracted.content.trim().is_empty() {
        return Err(ExtractError::NoText(format!("'{name}' has no text to answer from")));
    }
    Ok(extracted)
}

/// Table rows as lines a person (and the answer picker) reads: with a header
/// row, "Drain cleaning — Price: $150; Time: 1 hour"; without, the cells
/// joined by " — ".
pub fn table_lines(rows: &[Vec<String>]) -> Vec<String> {
    let rows: Vec<&Vec<String>> = rows.iter().filter(|r| r.iter().any(|c| !c.trim().is_empty())).collect();
    let Some((header, body)) = rows.split_first() else { return Vec::new() };
    if body.is_empty() || header.len() < 2 {
        return rows.iter().map(|r| join_cells(r)).collect();
    }
    body.iter()
        .map(|row| {
            let mut line = row.first().map(|c| c.trim().to_string()).unwrap_or_default();
            let rest: Vec<String> = row
                .iter()
                .enumerate()
                .skip(1)
                .filter(|(_, c)| !c.trim().is_empty())
                .map(|(i, c)| match header.get(i).map(|h| h.trim()).filter(|h| !h.is_empty()) {
                    Some(h) => format!("{h}: {}", c.trim()),
                    None => c.trim().to_string(),
                })
                .collect();
            if !rest.is_empty() {
                line.push_str(" — ");
                line.push_str(&rest.join("; "));
            }
            line
        })
        .collect()
}

fn join_cells(row: &[String]) -> String {
    row.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect::<Vec<_>>().join(" — ")
}

/// Collapses runs of spaces and tabs inside a line.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_read_as_lines() {
        let rows = vec![
            vec!["Service".to_string(), "Price".to_string(), "Time".to_string()],
            vec!["Drain cleaning".to_string(), "$150".to_string(), "1 hour".to_string()],
            vec!["".to_string(), "".to_string(), "".to_string()],
        ];
        assert_eq!(table_lines(&rows), vec!["Drain cleaning — Price: $150; Time: 1 hour"]);
        assert_eq!(table_lines(&[vec!["a".into(), " b ".into()]]), vec!["a — b"]);
    }

    #[test]
    fn kinds_by_name_and_size_cap() {
        assert_eq!(FileKind::of("Brochure.PDF"), Some(FileKind::Pdf));
        assert_eq!(FileKind::of("faq.docx"), Some(FileKind::Docx));
        assert_eq!(FileKind::of("x.exe"), None);
        assert!(matches!(extract("a.exe", b"x"), Err(ExtractError::Unsupported(_))));
        assert!(matches!(extract("a.txt", &vec![b'a'; MAX_FILE_BYTES + 1]), Err(ExtractError::TooLarge)));
        assert!(matches!(extract("a.txt", b"  \n"), Err(ExtractError::NoText(_))));
    }
}
