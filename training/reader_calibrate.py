"""`assistant reader calibrate`: fit the answer-or-abstain decision of a reader on dev data only.

    assistant reader calibrate --data ../shared/bench/qa-train [--model assistant/reader_model]

The decision is P(answerable) = sigmoid(w x best reader logit + b), answered when P >= threshold
(assistant/reader.py `Decision`). The best logit is taken exactly as the product takes it: each
question is run through `Assistant.gather` (retrieval over a corpus, then the reader), on
- the evaluation set's dev split over an index of sources/ (in-domain; follow-ups with their history);
- the questions of the qa-train articles the reader's training held out, over an index of those
  articles' paragraphs (the same setting as `assistant bench squad2`, on data that is not the benchmark).
Never the test split, never ../shared/bench/squad2. The two sources weigh equally, and each one's
classes equally; the threshold is the one with the best such balanced accuracy. The fit and its
figures go into the model's reader.json and card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from assistant.offline import switch_off_telemetry

switch_off_telemetry()

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "cited-assistant"


def _assistant(data_dir: Path, model: Path):
    from assistant.config import Config
    from assistant.core import Assistant

    config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None, reader_model_path=str(model))
    return Assistant.open(config=config)


def best_logits(assistant, questions: list[tuple[str, list[dict]]], desc: str) -> np.ndarray:
    from tqdm import tqdm

    from assistant.core import validate_question

    out = []
    for question, history in tqdm(questions, desc=desc, unit="q", file=sys.stderr):
        question = validate_question(question, assistant.config.max_question_chars)
        out.append(assistant.gather(question, assistant.search_query(question, history)).extract.best_logit)
    return np.array(out, dtype=float)


def dev_split(model: Path, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from assistant.config import Config
    from eval.dataset import load_questions
    from ingest.pipeline import run_ingest

    run_ingest([ROOT / "sources"], Config.from_env(data_dir=data_dir), progress=False)
    dev = load_questions(split="dev")
    x = best_logits(_assistant(data_dir, model), [(q.question, q.history_dicts()) for q in dev], "dev split")
    return x, np.array([q.answerable for q in dev])


def held_out_articles(model: Path, qa_train: Path, limit: int, seed: int = 13) -> tuple[np.ndarray, np.ndarray]:
    """The questions of the articles the reader's training held out, over an index of their paragraphs."""
    from assistant.config import Config
    from eval.bench_squad import write_paragraph_files
    from ingest.pipeline import run_ingest
    from training.reader_data import SQUAD_FILES

    meta = json.loads((model / "reader.json").read_text(encoding="utf-8"))
    held = meta["data"]["validation_articles"]
    rows = []
    for name in SQUAD_FILES:
        titles = set(held.get(name, []))
        with (qa_train / name).open(encoding="utf-8") as fh:
            rows += [r for r in map(json.loads, fh) if r["title"] in titles]
    contexts: dict[str, str] = {}
    for r in rows:
        contexts.setdefault(r["context"], r["title"])
    paragraphs = [{"_id": f"heldout-{i:04d}", "title": title, "text": text} for i, (text, title) in enumerate(contexts.items())]
    key = hashlib.sha256(json.dumps(held, sort_keys=True).encode()).hexdigest()[:10]
    corpus, data_dir = CACHE / f"heldout-corpus-{key}", CACHE / f"heldout-index-{key}"
    write_paragraph_files(paragraphs, corpus)
    run_ingest([corpus], Config.from_env(data_dir=data_dir), progress=False)
    random.Random(seed).shuffle(rows)
    rows = rows[:limit]
    x = best_logits(_assistant(data_dir, model), [(r["question"], []) for r in rows], "held-out articles")
    return x, np.array([not r["is_impossible"] for r in rows])


def fit(sources: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """Platt scaling with every (source, class) cell weighing the same; the threshold with the
    best balanced accuracy averaged over the sources."""
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for x, y in sources.values():
        for label in (True, False):
            n = int((y == label).sum())
            if n:
                xs.append(x[y == label])
                ys.append(y[y == label])
                ws.append(np.full(n, 1.0 / n))
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    lr = LogisticRegression(C=10.0).fit(x.reshape(-1, 1), y.astype(int), sample_weight=w * len(w) / w.sum())
    weight, bias = float(lr.coef_[0][0]), float(lr.intercept_[0])

    def figures(threshold: float) -> dict:
        out = {}
        for name, (xs_, ys_) in sources.items():
            answered = 1 / (1 + np.exp(-(weight * xs_ + bias))) >= threshold
            out[name] = {
                "questions": int(len(ys_)),
                "abstain_recall": round(float((~answered[~ys_]).mean()), 4) if (~ys_).any() else None,
                "over_refusal": round(float((~answered[ys_]).mean()), 4) if ys_.any() else None,
                "decision_accuracy": round(float((answered == ys_).mean()), 4),
            }
        return out

    def balanced(threshold: float) -> float:
        return float(np.mean([(1 - f["over_refusal"] + f["abstain_recall"]) / 2 for f in figures(threshold).values()
                              if f["over_refusal"] is not None and f["abstain_recall"] is not None]))

    candidates = np.unique(np.round(1 / (1 + np.exp(-(weight * x + bias))), 6))
    threshold = float(max(candidates, key=lambda t: (balanced(t), -t)))
    return {"weight": round(weight, 6), "bias": round(bias, 6), "threshold": round(threshold, 6),
            "balanced_accuracy": round(balanced(threshold), 4), "figures": figures(threshold)}


def main(argv: list[str] | None = None) -> int:
    from assistant.reader import READER_DIR, READER_FILE, read_reader_json
    from training.model_card import write_card

    parser = argparse.ArgumentParser(prog="assistant reader calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the qa-train folder the reader was trained from")
    parser.add_argument("--model", type=Path, default=READER_DIR, help="the reader folder to calibrate (default: the shipped one)")
    parser.add_argument("--questions", type=int, default=1000, help="held-out-article questions to use (default 1000)")
    parser.add_argument("--data-dir", type=Path, default=CACHE / "sources-index", help="index of sources/ to use")
    parser.add_argument("--cached", action="store_true", help="refit on the best logits saved by the last run on this model")
    args = parser.parse_args(argv)
    meta = read_reader_json(args.model)
    cache = CACHE / f"reader-logits-{meta.get('version', 'unknown')}.npz"
    if args.cached and cache.exists():
        saved = np.load(cache)
        sources = {"dev split": (saved["x_dev"], saved["y_dev"]), "held-out articles": (saved["x_held"], saved["y_held"])}
    else:
        sources = {"dev split": dev_split(args.model, args.data_dir),
                   "held-out articles": held_out_articles(args.model, args.data, args.questions)}
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x_dev=sources["dev split"][0], y_dev=sources["dev split"][1],
                 x_held=sources["held-out articles"][0], y_held=sources["held-out articles"][1])
    decision = fit(sources)
    decision["fitted_on"] = (f"`assistant reader calibrate` on {time.strftime('%Y-%m-%d')}: the evaluation set's dev split "
                             f"({len(sources['dev split'][1])} questions, over sources/) and "
                             f"{len(sources['held-out articles'][1])} questions of the qa-train articles held out of training "
                             "(over an index of their paragraphs); never the test split or the benchmarks")
    meta["decision"] = decision
    (args.model / READER_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_card(args.model)
    print(json.dumps(decision, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
