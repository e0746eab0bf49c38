//! BERT encoder with its linear layers quantised to GGML Q8_0 (candle's
//! QMatMul), embeddings, attention and layer norms in f32. Same maths as
//! candle_transformers' BertModel (checked by comparing outputs).
use anyhow::Result;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module, Tensor};
use candle_nn::{LayerNorm, VarBuilder};

struct QLinear {
    w: QMatMul,
    b: Tensor,
}

impl QLinear {
    fn load(vb: VarBuilder, i: usize, o: usize, q: GgmlDType) -> Result<Self> {
        let w = vb.get((o, i), "weight")?;
        let b = vb.get(o, "bias")?;
        Ok(Self { w: QMatMul::from_qtensor(QTensor::quantize(&w, q)?)?, b })
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.w.forward(x)?.broadcast_add(&self.b)?)
    }
}

fn ln(vb: VarBuilder, n: usize) -> Result<LayerNorm> {
    Ok(LayerNorm::new(vb.get(n, "weight")?, vb.get(n, "bias")?, 1e-12))
}

struct Layer {
    q: QLinear,
    k: QLinear,
    v: QLinear,
    o: QLinear,
    ln1: LayerNorm,
    up: QLinear,
    down: QLinear,
    ln2: LayerNorm,
}

pub struct QBert {
    word: Tensor,
    pos: Tensor,
    typ: Tensor,
    ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

impl QBert {
    pub fn load(vb: VarBuilder, layers: usize, q: GgmlDType) -> Result<Self> {
        let (h, inter) = (384, 1536);
        let e = vb.pp("embeddings");
        let mut ls = Vec::new();
        for i in 0..layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            ls.push(Layer {
                q: QLinear::load(a.pp("self.query"), h, h, q)?,
                k: QLinear::load(a.pp("self.key"), h, h, q)?,
                v: QLinear::load(a.pp("self.value"), h, h, q)?,
                o: QLinear::load(a.pp("output.dense"), h, h, q)?,
                ln1: ln(a.pp("output.LayerNorm"), h)?,
                up: QLinear::load(l.pp("intermediate.dense"), h, inter, q)?,
                down: QLinear::load(l.pp("output.dense"), inter, h, q)?,
                ln2: ln(l.pp("output.LayerNorm"), h)?,
            });
        }
        Ok(Self {
            word: e.get((30522, h), "word_embeddings.weight")?,
            pos: e.get((512, h), "position_embeddings.weight")?,
            typ: e.get((2, h), "token_type_embeddings.weight")?.get(0)?,
            ln: ln(e.pp("LayerNorm"), h)?,
            layers: ls,
            heads: 12,
        })
    }

    /// Last hidden state (n, 384) for one sequence of ids.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let n = ids.dim(0)?;
        let x = self.word.index_select(ids, 0)?.add(&self.pos.narrow(0, 0, n)?)?.broadcast_add(&self.typ)?;
        let mut x = self.ln.forward(&x)?;
        let hd = 384 / self.heads;
        let scale = 1.0 / (hd as f64).sqrt();
        for l in &self.layers {
            let split = |t: Tensor| -> Result<Tensor> {
                Ok(t.reshape((n, self.heads, hd))?.transpose(0, 1)?.contiguous()?)
            };
            let q = split(l.q.forward(&x)?)?;
            let k = split(l.k.forward(&x)?)?;
            let v = split(l.v.forward(&x)?)?;
            let s = (q.matmul(&k.t()?)? * scale)?;
            let p = candle_nn::ops::softmax_last_dim(&s)?;
            let ctx = p.matmul(&v)?.transpose(0, 1)?.reshape((n, 384))?;
            x = l.ln1.forward(&(l.o.forward(&ctx)? + &x)?)?;
            let h = l.up.forward(&x)?.gelu_erf()?;
            x = l.ln2.forward(&(l.down.forward(&h)? + &x)?)?;
        }
        Ok(x)
    }
}
