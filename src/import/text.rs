//! What every file parser produces and shares: the extracted text, the
//! error kinds, and the line helpers for tables and spacing. Apart from the
//! dispatcher (`extract.rs`) so the parsers depend on it, not on each other's
//! caller.

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
}
