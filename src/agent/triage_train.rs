//! Fitting the triage head: multinomial logistic regression, full batch,
//! in f64 and a fixed order so the same rows give the same head. The loss
//! is the (class-weighted) mean cross-entropy plus `l2 / 2 * |w|^2`.

use super::{slot, Features, Optimiser, Recipe};
use crate::domain::Priority;

/// L-BFGS memory (pairs of steps and gradient changes kept).
const MEMORY: usize = 10;
/// L-BFGS stops when a step lowers the loss by less than this, relatively.
const TOLERANCE: f64 = 1e-9;

/// The head's weights (one row per level) for the rows.
pub(super) fn fit(rows: &[(Features, Priority)], recipe: &Recipe) -> [Vec<f32>; 3] {
    let dims = rows.first().map_or(0, |r| r.0.len());
    // Dense features at their root-mean-square: the embedding's values are
    // ~0.06, the one-hots and cues ~0.3-1, so one L2 penalty would weigh
    // them very differently. Word slots are left as they are (sparse).
    let scale: Vec<f64> = match (recipe.standardise, rows.first()) {
        (true, Some((first, _))) => (0..first.dense.len())
            .map(|j| {
                let ms =
                    rows.iter().map(|(x, _)| f64::from(x.dense[j]).powi(2)).sum::<f64>() / rows.len() as f64;
                if ms > 0.0 {
                    1.0 / ms.sqrt()
                } else {
                    1.0
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let problem = Problem {
        rows,
        dims,
        scale: &scale,
        l2: f64::from(recipe.l2),
        urgent: f64::from(recipe.urgent_weight),
    };
    let w = match recipe.optimiser {
        Optimiser::Descent { steps, rate } => descent(&problem, steps, f64::from(rate)),
        Optimiser::Lbfgs { iterations } => lbfgs(&problem, iterations),
    };
    // Back to plain features: w·(s∘x) = (w∘s)·x.
    let mut out = [vec![0f32; dims], vec![0f32; dims], vec![0f32; dims]];
    for (c, row) in out.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let s = scale.get(j).copied().unwrap_or(1.0);
            *v = (w[c * dims + j] * s) as f32;
        }
    }
    out
}

struct Problem<'a> {
    rows: &'a [(Features, Priority)],
    dims: usize,
    /// Per dense feature, its training scale (empty: none).
    scale: &'a [f64],
    l2: f64,
    urgent: f64,
}

impl Problem<'_> {
    /// The loss at `w` (three rows of `dims`), its gradient into `grad`.
    fn eval(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let dims = self.dims;
        let scale = |j: usize| self.scale.get(j).copied().unwrap_or(1.0);
        let mut total = 0.0;
        let mut weight_sum = 0.0;
        for (x, level) in self.rows {
            let mut z = [0f64; 3];
            for (c, zc) in z.iter_mut().enumerate() {
                let row = &w[c * dims..(c + 1) * dims];
                let dense: f64 =
                    x.dense.iter().enumerate().map(|(j, v)| f64::from(*v) * scale(j) * row[j]).sum();
                let words: f64 = x.words.iter().map(|(i, v)| f64::from(*v) * row[*i]).sum();
                *zc = dense + words;
            }
            let max = z.iter().copied().fold(f64::MIN, f64::max);
            let e = z.map(|v| (v - max).exp());
            let sum: f64 = e.iter().sum();
            let y = slot(*level);
            let weight = if y == 2 { self.urgent } else { 1.0 };
            weight_sum += weight;
            total += weight * (sum.ln() - (z[y] - max));
            for c in 0..3 {
                let err = weight * (e[c] / sum - if c == y { 1.0 } else { 0.0 });
                let g = &mut grad[c * dims..(c + 1) * dims];
                for (j, v) in x.dense.iter().enumerate() {
                    g[j] += err * f64::from(*v) * scale(j);
                }
                for (i, v) in &x.words {
                    g[*i] += err * f64::from(*v);
                }
            }
        }
        let n = weight_sum.max(1.0);
        grad.iter_mut().zip(w).for_each(|(g, wi)| *g = *g / n + self.l2 * wi);
        total / n + 0.5 * self.l2 * w.iter().map(|v| v * v).sum::<f64>()
    }
}

fn descent(p: &Problem, steps: usize, rate: f64) -> Vec<f64> {
    let mut w = vec![0f64; 3 * p.dims];
    let mut grad = vec![0f64; w.len()];
    for _ in 0..steps {
        p.eval(&w, &mut grad);
        w.iter_mut().zip(&grad).for_each(|(wi, g)| *wi -= rate * g);
    }
    w
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Limited-memory BFGS with a backtracking (Armijo) line search: the loss
/// is smooth and convex, so it converges in a few hundred passes where
/// plain descent needs thousands.
fn lbfgs(p: &Problem, iterations: usize) -> Vec<f64> {
    let n = 3 * p.dims;
    let mut w = vec![0f64; n];
    let mut grad = vec![0f64; n];
    let mut f = p.eval(&w, &mut grad);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let (mut next, mut next_grad) = (vec![0f64; n], vec![0f64; n]);
    for _ in 0..iterations {
        // The two-loop recursion: direction = -H·grad.
        let mut d: Vec<f64> = grad.iter().map(|g| -g).collect();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &d);
            d.iter_mut().zip(y).for_each(|(di, yi)| *di -= a * yi);
            alphas.push(a);
        }
        let gamma = history
            .last()
            .map_or_else(|| 1.0 / dot(&grad, &grad).sqrt().max(1e-12), |(s, y, _)| dot(s, y) / dot(y, y));
        d.iter_mut().for_each(|di| *di *= gamma);
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &d);
            d.iter_mut().zip(s).for_each(|(di, si)| *di += (a - b) * si);
        }
        let mut slope = dot(&grad, &d);
        if slope >= 0.0 {
            // Not a descent direction (should not happen): start afresh.
            history.clear();
            d = grad.iter().map(|g| -g).collect();
            slope = -dot(&grad, &grad);
        }
        let mut step = 1.0;
        let mut f_next = f;
        for _ in 0..40 {
            next.iter_mut().zip(&w).zip(&d).for_each(|((x, wi), di)| *x = wi + step * di);
            f_next = p.eval(&next, &mut next_grad);
            if f_next <= f + 1e-4 * step * slope {
                break;
            }
            step *= 0.5;
        }
        if f_next > f {
            break;
        }
        let s: Vec<f64> = next.iter().zip(&w).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == MEMORY {
                history.remove(0);
            }
            history.push((s, y, 1.0 / sy));
        }
        let done = f - f_next < TOLERANCE * f.abs().max(1.0);
        std::mem::swap(&mut w, &mut next);
        std::mem::swap(&mut grad, &mut next_grad);
        f = f_next;
        if done {
            break;
        }
    }
    w
}
