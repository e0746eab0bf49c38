//! Files to knowledge text: PDF, DOCX, HTML, Markdown and plain text become
//! paragraphs separated by blank lines, with headings as Markdown heading
//! lines (which the chunker turns into chunk titles) and table rows as
//! readable lines.

pub use super::text::{ExtractError, Extracted, MAX_FILE_BYTES};

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

#[cfg(test)]
mod tests {
    use super::*;

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
