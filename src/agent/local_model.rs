//! The embedded sentence-embedding model: a static (model2vec-style)
//! embedding distilled from all-MiniLM-L6-v2 by
//! `packaging/model/build_model.py`. A sentence's vector is the mean of its
//! WordPiece tokens' int8 vectors, L2-normalised: no transformer at run time,
//! so embedding costs microseconds and needs no key, network or GPU.

use std::sync::OnceLock;

use tokenizers::Tokenizer;

const VECTORS: &[u8] = include_bytes!("../../assets/model/vectors.bin");
const TOKENIZER: &[u8] = include_bytes!("../../assets/model/tokenizer.json");
const MODEL_ID: &str = include_str!("../../assets/model/MODEL_ID");
const MAGIC: &[u8] = b"FDSE0001";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("embedded model vectors are malformed: {0}")]
    Vectors(&'static str),
    #[error("embedded tokenizer is malformed: {0}")]
    Tokenizer(String),
}

pub struct LocalModel {
    tokenizer: Tokenizer,
    dims: usize,
    /// One scale per token: vector = scale * int8 row.
    scales: Vec<f32>,
    /// Token rows of `dims` int8 values, straight from the binary.
    rows: &'static [u8],
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalModel({}, {} dims)", self.id(), self.dims)
    }
}

/// The model, loaded once. None only if the embedded files are broken,
/// which a test rules out; callers then fall back to full-text search and
/// the rules alone.
pub fn get() -> Option<&'static LocalModel> {
    static MODEL: OnceLock<Option<LocalModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| match LocalModel::load() {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "embedded sentence model unavailable");
                None
            }
        })
        .as_ref()
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b) as usize)
}

impl LocalModel {
    pub fn load() -> Result<LocalModel, ModelError> {
        if !VECTORS.starts_with(MAGIC) {
            return Err(ModelError::Vectors("bad magic"));
        }
        let vocab = u32_at(VECTORS, 8).ok_or(ModelError::Vectors("short header"))?;
        let dims = u32_at(VECTORS, 12).ok_or(ModelError::Vectors("short header"))?;
        let scales_end = 16 + vocab * 4;
        if VECTORS.len() != scales_end + vocab * dims || dims == 0 {
            return Err(ModelError::Vectors("size does not match the header"));
        }
        let scales = VECTORS[16..scales_end]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let mut tokenizer =
            Tokenizer::from_bytes(TOKENIZER).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        if tokenizer.get_vocab_size(true) != vocab {
            return Err(ModelError::Tokenizer("vocabulary size differs from the vectors'".into()));
        }
        Ok(LocalModel { tokenizer, dims, scales, rows: &VECTORS[scales_end..] })
    }

    /// Names the model and its recipe; stored with every vector so a new
    /// model re-embeds what the old one embedded.
    pub fn id(&self) -> &'static str {
        MODEL_ID.trim()
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The unit-length vector of a text (all zeros when it has no known token).
    pub fn embed(&self, text: &str) -> Vec<f32> {
        let mut sum = vec![0f32; self.dims];
        let ids = match self.tokenizer.encode_fast(text, false) {
            Ok(encoding) => encoding.get_ids().to_vec(),
            Err(e) => {
                tracing::debug!(error = %e, "tokenizer refused a text");
                Vec::new()
            }
        };
        for id in ids {
            let id = id as usize;
            let (Some(&scale), Some(row)) =
                (self.scales.get(id), self.rows.get(id * self.dims..(id + 1) * self.dims))
            else {
                continue;
            };
            for (s, &q) in sum.iter_mut().zip(row) {
                *s += scale * f32::from(q as i8);
            }
        }
        normalise(&mut sum);
        sum
    }
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_embeds_meaning() {
        let m = get().expect("the embedded model loads");
        assert_eq!(m.dims(), 256);
        assert!(m.id().starts_with("minilm-l6-static"));
        let v = m.embed("Water is pouring through the ceiling");
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-4, "unit length");
        let near = cosine(&v, &m.embed("a pipe burst and the kitchen is flooding"));
        let far = cosine(&v, &m.embed("what are your opening hours on saturday"));
        assert!(near > far + 0.1, "near {near}, far {far}");
        assert!(m.embed("").iter().all(|x| *x == 0.0));
    }
}
