#!/usr/bin/env python3
"""Experiment (issue 12): dense-only retrieval with the static vs the
contextual MiniLM-L6 embedding on the demo business's knowledge.

Each knowledge document of assets/demo/acme-plumbing.toml is cut into its
paragraphs (title prepended); a question goes to the document of its most
similar paragraph (cosine). Scored: top-1 document among the expected titles,
over the questions of every knowledge.tsv the engine is developed on plus H
(NONE questions skipped). Dense only: the shipped retrieval also ranks by
full text, so these figures measure the embedding, not the product.

    python3 packaging/model/experiments/contextual_retrieval.py WHEEL.whl
"""

import os
import sys
import tomllib

import numpy as np
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import contextual_triage as ct  # noqa: E402

SETS = ["dev", "heldout", "heldout_c", "heldout_d", "heldout_e", "heldout_f", "heldout_g", "heldout_h"]


def questions(name):
    lines = open(os.path.join(ct.ROOT, "tests/data", name, "knowledge.tsv"), encoding="utf-8").read().splitlines()
    head = lines[0].split("\t")
    out = []
    for line in lines[1:]:
        cols = dict(zip(head, line.split("\t")))
        titles = cols.get("expected_titles", cols.get("titles", ""))
        if not line.strip() or titles.strip() == "NONE":
            continue
        out.append((cols["question"].strip(), {t.strip() for t in titles.split("|")}, cols.get("lang", "en")))
    return out


def main(argv):
    weights, tokenizer = ct.bm.teacher_files(ct.bm.fetch_wheel(argv))
    w = ct.bm.load_safetensors(weights)
    tok = Tokenizer.from_str(tokenizer.decode())
    tok.no_padding()
    tok.no_truncation()
    docs = tomllib.load(open(os.path.join(ct.ROOT, "assets/demo/acme-plumbing.toml"), "rb"))["knowledge"]
    paras, owner = [], []
    for d in docs:
        for p in d["content"].split("\n\n"):
            if p.strip():
                paras.append(d["title"] + ". " + p.strip())
                owner.append(d["title"])
    owner = np.array(owner)
    qs = {s: questions(s) for s in SETS}
    allq = [q for s in SETS for q in qs[s]]
    texts = [q[0] for q in allq]
    embs = {"static": (ct.static(tok, paras), ct.static(tok, texts))}
    cp = ct.contextual(w, tok, paras, [2, 3, 6])
    cq = ct.contextual(w, tok, texts, [2, 3, 6])
    for L in [6, 3, 2]:
        embs[f"contextual L{L}"] = (cp[L], cq[L])
    print("| embedding | " + " | ".join(SETS) + " | all | H en / es |")
    print("| --- " * (len(SETS) + 4) + "|")
    for name, (p, q) in embs.items():
        best = owner[np.argmax(q @ p.T, axis=1)]
        hit = np.array([b in want for b, (_, want, _) in zip(best, allq)])
        cells, i = [], 0
        for s in SETS:
            n = len(qs[s])
            cells.append(f"{hit[i:i + n].sum()}/{n}")
            if s == "heldout_h":
                langs = np.array([q[2] for q in qs[s]])
                h = hit[i : i + n]
                hl = f"{h[langs == 'en'].sum()}/{(langs == 'en').sum()} / {h[langs == 'es'].sum()}/{(langs == 'es').sum()}"
            i += n
        print(f"| {name} | " + " | ".join(cells) + f" | {hit.mean():.3f} | {hl} |", flush=True)


if __name__ == "__main__":
    main(sys.argv)
