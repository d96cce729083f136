"""`assistant reader calibrate`: fit the answer-or-abstain decision of a decision model on dev data only.

    assistant reader calibrate --data ../shared/bench/qa-train [--policy-docs ../shared/bench/policy-corpus/docs]
        [--model assistant/decision_model] [--reader assistant/reader_model]

The decision is P(answerable) = sigmoid(w1 x best logit + w2 x mean of the top k + b), answered when
P >= threshold (assistant/reader.py `Decision`), over the decision model's logits of the best
DECISION_SENTENCES sentences the reader ranked (assistant/extractive.py `answerability`; --model and
--reader may be the same folder). The logits are taken exactly as the product takes them: each question
is run through `Assistant.gather` (retrieval over a corpus, the reader, then the decision model), on
- "bundled dev": the evaluation set's dev split and the calibration set (eval/data/calibration.jsonl,
  also "dev") over an index of sources/ (follow-ups with their history);
- "policy dev" (with --policy-docs): eval/data/policy_dev.jsonl over one index of the policy corpus and
  sources/ (45 documents), as `assistant bench policy-qa --split dev` asks them: scores shift with the
  size and kind of the corpus, and a decision fitted on five articles answers nearly everything on a
  large corpus of reports;
- "held-out articles": the questions of the qa-train articles the reader's training held out, over an
  index of those articles' paragraphs (the setting of `assistant bench squad2`, on data that is not the benchmark).
Never a test split, never ../shared/bench/squad2. Questions the product refuses whatever the reader
says (no sentence to give, or off-corpus) are left out of the fit and counted as refusals in the
figures. The weights are fitted on every source, each one's classes weighing equally; the threshold
is the one that abstains most on the product's own dev sources (bundled and policy) while refusing
at most MAX_OVER_REFUSAL of each one's answerable questions (the two domains' scores do not line up
with SQuAD's, so one threshold cannot serve all, and the assistant is for its users' documents). The
fit and its figures go into the model's reader.json and card.
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


def _assistant(data_dir: Path, model: Path, reader: Path | None = None):
    """The product over `data_dir`, deciding with the decision model `model` over the reader `reader`
    (None: the shipped reader)."""
    from assistant.config import Config
    from assistant.core import Assistant

    config = Config.from_env(data_dir=data_dir).replace(
        llm_base_url=None, decision_model_path=str(model), reader_model_path=str(reader) if reader else None)
    return Assistant.open(config=config)


def question_logits(assistant, questions: list[tuple[str, list[dict]]], desc: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Per question, the decision model's logits of the reader's best sentences (as `Assistant.gather` reads
    them), and whether the product refuses it whatever the decision says (no sentence to give, or off-corpus)."""
    from tqdm import tqdm

    from assistant.core import validate_question

    out, refused = [], []
    # A bar on a terminal; a line every 30 s in a log file.
    for question, history in tqdm(questions, desc=desc, unit="q", file=sys.stderr, mininterval=0.1 if sys.stderr.isatty() else 30):
        question = validate_question(question, assistant.config.max_question_chars)
        grounds = assistant.gather(assistant.search_query(question, history), question=question)
        out.append(np.array(grounds.decision_logits, dtype=float))
        refused.append(not grounds.extract.groups or not grounds.about_the_sources)
    return out, np.array(refused, dtype=bool)


CALIBRATION_SET = ROOT / "eval" / "data" / "calibration.jsonl"


def bundled_dev(model: Path, data_dir: Path, reader: Path | None = None) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The evaluation set's dev split and the calibration set (both "dev"), over an index of sources/."""
    from assistant.config import Config
    from eval.dataset import load_questions
    from ingest.pipeline import run_ingest

    run_ingest([ROOT / "sources"], Config.from_env(data_dir=data_dir), progress=False)
    dev = load_questions(split="dev") + load_questions(CALIBRATION_SET, split="dev")
    x, refused = question_logits(_assistant(data_dir, model, reader), [(q.question, q.history_dicts()) for q in dev], "dev split + calibration set")
    return x, np.array([q.answerable for q in dev]), refused


def policy_dev(model: Path, docs: Path, data_dir: Path | None = None, reader: Path | None = None) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The policy corpus's dev questions over one index of its documents and sources/ (the index
    `assistant bench policy-qa` builds and reuses)."""
    from assistant.config import Config
    from eval.policy_qa import QUESTIONS_DIR, SOURCES, default_data_dir, load_questions
    from ingest.pipeline import run_ingest

    data_dir = data_dir or default_data_dir(docs)
    run_ingest([docs, SOURCES], Config.from_env(data_dir=data_dir), progress=False)
    dev = load_questions(QUESTIONS_DIR / "policy_dev.jsonl", "dev")
    x, refused = question_logits(_assistant(data_dir, model, reader), [(q.question, q.history_dicts) for q in dev], "policy dev")
    return x, np.array([q.answerable for q in dev]), refused


def held_out_articles(model: Path, qa_train: Path, limit: int, seed: int = 13, reader: Path | None = None) -> tuple[list[np.ndarray], np.ndarray]:
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
    x, refused = question_logits(_assistant(data_dir, model, reader), [(r["question"], []) for r in rows], "held-out articles")
    return x, np.array([not r["is_impossible"] for r in rows]), refused


TOP_K = 3  # the decision's mean of the top-k logits: all DECISION_SENTENCES the decision model reads (docs/benchmarks.md)


MAX_OVER_REFUSAL = 0.08  # on each of the product's dev sources: the target is <= 0.10 on test; 0.08 leaves a margin (0.05, 0.07, 0.08, 0.10 compared on dev: docs/benchmarks.md)
PRODUCT_SOURCES = ("bundled dev", "policy dev")  # the sources the threshold is chosen on, where present


def logistic_regression(x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, c: float = 1.0) -> tuple[np.ndarray, float]:
    """(coefficients, intercept) minimising scikit-learn's LogisticRegression(C=c) objective, 0.5 |w|^2 +
    c x the weighted log-loss (the intercept not penalised), with scipy's L-BFGS: training runs
    where scikit-learn is not installed (a GPU machine)."""
    from scipy.optimize import minimize
    from scipy.special import expit

    features = np.hstack([np.asarray(x, dtype=float), np.ones((len(x), 1))])
    target = np.asarray(y, dtype=float)
    weight = np.asarray(sample_weight, dtype=float)

    def objective(theta):
        z = features @ theta
        penalty = np.append(theta[:-1], 0.0)
        value = c * float(np.sum(weight * (np.logaddexp(0.0, z) - target * z))) + 0.5 * float(penalty @ penalty)
        return value, c * features.T @ (weight * (expit(z) - target)) + penalty

    theta = minimize(objective, np.zeros(features.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-9}).x
    return theta[:-1], float(theta[-1])


def fit(sources: dict[str, tuple], top_k: int = TOP_K, threshold_on: str | list[str] | None = None,
        max_over_refusal: float | None = None) -> dict:
    """Logistic regression on (best logit, mean of the top_k logits), every (source, class) cell
    weighing the same. A source is (per-question logits, answerable[, refused anyway]); questions the
    product refuses anyway are left out of the fit and count as refusals in the figures. The threshold:
    with `max_over_refusal`, the one that abstains most on the `threshold_on` sources (the product's
    own domain) while refusing at most that share of each one's answerable questions; without, the one
    with the best balanced accuracy there (all sources averaged when `threshold_on` is None), ties to
    fewer refusals."""
    from assistant.reader import Decision, decision_features

    chosen = [threshold_on] if isinstance(threshold_on, str) else list(threshold_on or sources)
    features = {name: np.array([decision_features(q, top_k) for q in source[0]]).reshape(-1, 2) for name, source in sources.items()}
    labels = {name: np.asarray(source[1], dtype=bool) for name, source in sources.items()}
    refused = {name: (np.asarray(source[2], dtype=bool) if len(source) > 2 else np.zeros(len(source[1]), dtype=bool))
               for name, source in sources.items()}
    xs, ys, ws = [], [], []
    for name in sources:
        for label in (True, False):
            mask = (labels[name] == label) & ~refused[name]
            if mask.any():
                xs.append(features[name][mask])
                ys.append(labels[name][mask])
                ws.append(np.full(int(mask.sum()), 1.0 / mask.sum()))
    x, y, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    if y.all() or not y.any():
        return {"weights": [1.0, 0.0], "bias": 0.0, "threshold": 0.5, "top_k": top_k, "note": "one class only: not fitted"}
    coef, intercept = logistic_regression(x, y, w * len(w) / w.sum())
    weights, bias = (float(coef[0]), float(coef[1])), float(intercept)

    def figures(threshold: float) -> dict:
        decision = Decision(weights, bias, threshold, top_k)
        out = {}
        for name, (qs, *_) in sources.items():
            a = np.array([decision.answerable(q) for q in qs], dtype=bool) & ~refused[name]
            yy = labels[name]
            out[name] = {
                "questions": int(len(yy)),
                "refused_anyway": int(refused[name].sum()),
                "abstain_recall": round(float((~a[~yy]).mean()), 4) if (~yy).any() else None,
                "over_refusal": round(float((~a[yy]).mean()), 4) if yy.any() else None,
                "decision_accuracy": round(float((a == yy).mean()), 4),
            }
        return out

    def balanced(threshold: float) -> float:
        values = [(1 - f["over_refusal"] + f["abstain_recall"]) / 2 for name, f in figures(threshold).items()
                  if f["over_refusal"] is not None and f["abstain_recall"] is not None and name in chosen]
        return float(np.mean(values)) if values else 0.0

    probabilities = np.unique(np.round(1 / (1 + np.exp(-(x @ np.array(weights) + bias))), 6))
    if max_over_refusal is not None and threshold_on is not None:
        def fits(t: float) -> bool:
            return all((figures(t)[name]["over_refusal"] or 0.0) <= max_over_refusal for name in chosen)

        # Refusals grow with the threshold: the largest one that fits, found by bisection over the candidates.
        low, high = 0, len(probabilities) - 1
        if not fits(float(probabilities[0])):
            threshold = float(probabilities.min())
        else:
            while low < high:
                mid = (low + high + 1) // 2
                low, high = (mid, high) if fits(float(probabilities[mid])) else (low, mid - 1)
            threshold = float(probabilities[low])
    else:
        threshold = float(max(probabilities, key=lambda t: (balanced(t), -t)))
    return {"features": ["best logit", f"mean of the top {top_k} logits"], "weights": [round(v, 6) for v in weights],
            "bias": round(bias, 6), "threshold": round(threshold, 6), "top_k": top_k, "threshold_on": chosen if threshold_on else "all",
            "threshold_rule": (f"abstain most with over-refusal <= {max_over_refusal} on each of {', '.join(chosen)}"
                               if max_over_refusal is not None else f"best balanced accuracy on {', '.join(chosen)}"),
            "balanced_accuracy": round(balanced(threshold), 4), "figures": figures(threshold)}


def main(argv: list[str] | None = None) -> int:
    from assistant.extractive import DECISION_SENTENCES, RETRIEVAL_PRIOR
    from assistant.reader import DECISION_DIR, READER_DIR, READER_FILE, read_reader_json
    from training.model_card import write_card

    parser = argparse.ArgumentParser(prog="assistant reader calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the qa-train folder the reader was trained from")
    parser.add_argument("--model", type=Path, default=DECISION_DIR,
                        help="the decision model folder to calibrate (default: the shipped one); a reader folder may decide for itself")
    parser.add_argument("--reader", type=Path, default=READER_DIR,
                        help="the reader whose best sentences the decision model reads (default: the shipped one)")
    parser.add_argument("--questions", type=int, default=1000, help="held-out-article questions to use (default 1000)")
    parser.add_argument("--data-dir", type=Path, default=CACHE / "sources-index", help="index of sources/ to use")
    parser.add_argument("--policy-docs", type=Path, default=None,
                        help="the policy corpus's docs folder (../shared/bench/policy-corpus/docs): its dev questions join the fit")
    parser.add_argument("--policy-data-dir", type=Path, default=None,
                        help="index of the policy corpus and sources/ (default: the one `assistant bench policy-qa` uses)")
    parser.add_argument("--cached", action="store_true", help="reuse the held-out articles' logits saved by the last run on this model")
    args = parser.parse_args(argv)
    meta = read_reader_json(args.model)
    if "weights" not in (meta.get("decision") or {}):
        # The assistant needs some decision to open; this one is replaced by the fit below.
        meta["decision"] = {"weights": [1.0, 0.0], "bias": 0.0, "threshold": 0.5, "top_k": TOP_K, "fitted_on": "nothing yet"}
        (args.model / READER_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    # The held-out articles' logits depend on the two models and on how sentences are ranked (the retrieval
    # prior), and take minutes: cached per pair of versions and prior.
    # The in-domain questions are few and depend on the assistant around the reader: always read afresh.
    reader_version = read_reader_json(args.reader).get("version", "unknown")
    cache = CACHE / f"decision-heldout-logits-v3-{meta.get('version', 'unknown')}-{reader_version}-prior{RETRIEVAL_PRIOR:g}-{args.questions}.json"
    if args.cached and cache.exists():
        saved = json.loads(cache.read_text())
        held = ([np.array(q) for q in saved["logits"]], np.array(saved["answerable"]), np.array(saved["refused"], dtype=bool))
    else:
        held = held_out_articles(args.model, args.data, args.questions, reader=args.reader)
        CACHE.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"logits": [q.tolist() for q in held[0]], "answerable": held[1].tolist(), "refused": held[2].tolist()}))
    sources = {"bundled dev": bundled_dev(args.model, args.data_dir, args.reader)}
    if args.policy_docs:
        sources["policy dev"] = policy_dev(args.model, args.policy_docs, args.policy_data_dir, args.reader)
    sources["held-out articles"] = held
    decision = fit(sources, threshold_on=[name for name in PRODUCT_SOURCES if name in sources], max_over_refusal=MAX_OVER_REFUSAL)
    policy = (f"the policy corpus's dev questions ({len(sources['policy dev'][1])}, over the corpus and sources/), "
              if "policy dev" in sources else "")
    decision["fitted_on"] = (f"`assistant reader calibrate` on {time.strftime('%Y-%m-%d')}: the evaluation set's dev split and "
                             f"the calibration set ({len(sources['bundled dev'][1])} questions, over sources/), {policy}and "
                             f"{len(sources['held-out articles'][1])} questions of the qa-train articles held out of training "
                             "(over an index of their paragraphs); never a test split or the benchmarks")
    if args.model.resolve() != args.reader.resolve():
        decision["reads"] = {"reader_version": reader_version, "sentences": DECISION_SENTENCES}
    meta["decision"] = decision
    (args.model / READER_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_card(args.model)
    print(json.dumps(decision, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
