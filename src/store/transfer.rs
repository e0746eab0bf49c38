//! What `frontdesk migrate-data` carries from one backend to another: rows
//! as plain values, so neither backend sees the other's driver types.

/// One value of a row, as the source database holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// An embedding (SQLite keeps it in a sqlite-vec table, Postgres in `real[]`).
    Floats(Vec<f32>),
}

/// Rows read in batches, so a large table never sits in memory whole.
pub type Batch = Vec<Vec<Cell>>;

/// Rows per batch sent from the reading thread.
pub const BATCH_ROWS: usize = 2000;

/// A table the source has and the target does not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub table: String,
    pub why: &'static str,
}

/// Rows per table on both sides after a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: String,
    pub source: u64,
    pub target: u64,
}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct Copied {
    pub counts: Vec<TableCount>,
    pub skipped: Vec<Skipped>,
    /// Source rows that had nothing to copy (an embedding row whose vector is missing).
    pub notes: Vec<String>,
    /// The target's schema version after its migrations.
    pub target_version: u32,
}
