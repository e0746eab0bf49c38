//! Latency of MiniLM-L6 (contextual, mean-pooled) on one sentence, one thread.
//! usage: cx-bench MODEL_DIR LAYERS DTYPE(f32|f16|bf16) RUNS
use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::time::Instant;

mod qbert;

/// CPU time of this process (all its threads): what one sentence costs, whatever else the machine runs.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

const SENTENCES: [(usize, &str); 3] = [
    (12, "my water heater is leaking all over the garage floor"),
    (25, "hi there, the water heater in our basement started leaking this morning and now there is about an inch of water on the floor"),
    (50, "hello, I am calling because the water heater in the basement of our rental house started leaking early this morning, there is already about an inch of water across the whole floor, the tenants have turned off the gas valve but they cannot find the main water shutoff and they are worried about the electrical panel nearby"),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).context("model dir")?);
    let layers: usize = args.get(2).map_or(Ok(6), |s| s.parse())?;
    let kind = args.get(3).cloned().unwrap_or_else(|| "f32".into());
    let dtype = match kind.as_str() {
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        _ => DType::F32,
    };
    let quant = match kind.as_str() {
        "q8" => Some(candle_core::quantized::GgmlDType::Q8_0),
        "q4" => Some(candle_core::quantized::GgmlDType::Q4_0),
        _ => None,
    };
    let runs: usize = args.get(4).map_or(Ok(200), |s| s.parse())?;
    let device = Device::Cpu;
    let t0 = Instant::now();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
    cfg["num_hidden_layers"] = layers.into();
    let config: Config = serde_json::from_value(cfg)?;
    let vb =
        unsafe { VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], dtype, &device)? };
    let (model, qmodel) = match quant {
        Some(q) => (None, Some(qbert::QBert::load(vb, layers, q)?)),
        None => (Some(BertModel::load(vb, &config)?), None),
    };
    let tok = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).map_err(anyhow::Error::msg)?;
    eprintln!("load {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    for (want, text) in SENTENCES {
        let enc = tok.encode(text, true).map_err(anyhow::Error::msg)?;
        let mut ids: Vec<u32> = enc.get_ids().to_vec();
        // Trim/pad to exactly `want` tokens ([CLS] ... [SEP]) so the lengths are the ones asked for.
        ids.truncate(want - 1);
        while ids.len() < want - 1 {
            ids.push(ids[ids.len() - 1]);
        }
        ids.push(102);
        let mut times = Vec::with_capacity(runs);
        let mut cpu = Vec::with_capacity(runs);
        let mut check = 0f32;
        for i in 0..runs + 10 {
            let t = Instant::now();
            let c0 = thread_cpu_ms();
            let input = Tensor::new(ids.as_slice(), &device)?.unsqueeze(0)?;
            let out = if let Some(m) = &model {
                let types = input.zeros_like()?;
                let mask = input.ones_like()?;
                m.forward(&input, &types, Some(&mask))? // (1, n, 384)
            } else if let Some(m) = &qmodel {
                m.forward(&input.squeeze(0)?)?.unsqueeze(0)?
            } else {
                anyhow::bail!("no model")
            };
            let pooled = out.mean(1)?.to_dtype(DType::F32)?;
            let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?;
            let v = pooled.broadcast_div(&norm)?.squeeze(0)?.to_vec1::<f32>()?;
            let dt = t.elapsed().as_secs_f64() * 1e3;
            let dc = thread_cpu_ms() - c0;
            check = v[0];
            if i >= 10 {
                times.push(dt);
                cpu.push(dc);
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        cpu.sort_by(|a, b| a.total_cmp(b));
        let p = |v: &[f64], q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "layers={layers} kind={kind} tokens={want} wall p50={:.2}ms p99={:.2}ms | proc-cpu p50={:.2}ms p99={:.2}ms | v0={check:.4}",
            p(&times, 0.5),
            p(&times, 0.99),
            p(&cpu, 0.5),
            p(&cpu, 0.99)
        );
    }
    Ok(())
}
