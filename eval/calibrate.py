"""Fit the refusal model (assistant/refusal_model.json) on data, not by hand.

    python -m eval.calibrate --squad ../shared/bench/squad2 [--squad-questions 2000]

Training data: the evaluation set's dev split (in-domain; the test split is never used here) and a
sample of SQuAD 2.0 dev questions, whose unanswerable questions were written to look answerable
from an on-topic paragraph. Each question is run through the product's own evidence step
(`Assistant.gather`): the answerability signals it computes are the features, "is answerable"
the label. A logistic regression (scikit-learn) is fitted with the two sources weighted equally;
the threshold is the one with the best balanced accuracy on the dev split (ties broken by lower
over-refusal). The fit's figures are printed and stored in the JSON beside the weights.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant.offline import switch_off_telemetry

switch_off_telemetry()

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "cited-assistant"


def squad_index(squad_dir: Path) -> Path:
    """Ingest the SQuAD 2.0 paragraphs (and distractors) once, through the product's ingest."""
    from assistant.config import Config
    from ingest.pipeline import run_ingest

    data_dir = CACHE / "squad2-index"
    corpus_dir = CACHE / "squad2-corpus"
    if not corpus_dir.exists():
        corpus_dir.mkdir(parents=True)
        meta = []
        for name in ("corpus.jsonl", "corpus_distractors.jsonl"):
            for line in (squad_dir / name).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                filename = f"{row['_id']}.txt"
                (corpus_dir / filename).write_text(row["text"] + "\n", encoding="utf-8")
                meta.append(f'["{filename}"]\ntitle = {json.dumps(row.get("title", "").replace("_", " "))}\n')
        (corpus_dir / "metadata.toml").write_text("\n".join(meta), encoding="utf-8")
    run_ingest([corpus_dir], Config.from_env(data_dir=data_dir), progress=True)
    return data_dir


def collect(assistant, questions: list[tuple[str, bool, list[dict]]], desc: str) -> tuple[np.ndarray, np.ndarray]:
    from tqdm import tqdm

    from assistant.core import validate_question

    features, labels = [], []
    for question, answerable, history in tqdm(questions, desc=desc, unit="q"):
        question = validate_question(question, 2000)
        searched_for = assistant.search_query(question, history)
        evidence = assistant.gather(question, searched_for)
        # The signals on the configured ranking (the answerer's), which the fitted model records.
        features.append(evidence.extract.signals.vector())
        labels.append(1 if answerable else 0)
    return np.array(features), np.array(labels)


def collect_all(args):
    """Signals and labels of the dev split and of the SQuAD sample, from the product itself."""
    from assistant.config import Config
    from assistant.core import Assistant
    from eval.dataset import load_questions
    from ingest.pipeline import run_ingest

    run_ingest([ROOT / "sources"], Config.from_env(data_dir=args.data_dir), progress=False)
    sources = Assistant.open(config=Config.from_env(data_dir=args.data_dir).replace(llm_base_url=None))
    dev = load_questions(split="dev")
    x_dev, y_dev = collect(sources, [(q.question, q.answerable, q.history_dicts()) for q in dev], "dev split")
    x_sq, y_sq, squad_note = np.zeros((0, x_dev.shape[1])), np.zeros(0, dtype=int), "none"
    if args.squad:
        squad = Assistant.open(config=Config.from_env(data_dir=squad_index(args.squad)).replace(llm_base_url=None))
        rows = [json.loads(line) for line in (args.squad / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
        random.Random(13).shuffle(rows)
        rows = rows[: args.squad_questions]
        x_sq, y_sq = collect(squad, [(r["question"], not r["is_impossible"], []) for r in rows], "SQuAD 2.0")
        squad_note = f"{len(y_sq)} SQuAD 2.0 dev questions ({int((1 - y_sq).sum())} unanswerable), seed 13"
    return x_dev, y_dev, x_sq, y_sq, squad_note


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression

    from assistant.config import Config
    from assistant.refusal import FEATURES, MODEL_FILE
    from assistant.retrieval import Ranking

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, help="SQuAD 2.0 folder (../shared/bench/squad2)")
    parser.add_argument("--squad-questions", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=CACHE / "sources-index", help="index of sources/ to use")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--cached", action="store_true", help="refit on the signals saved by the last run")
    args = parser.parse_args(argv)
    features_file = CACHE / "refusal-signals.npz"

    if args.cached:
        saved = np.load(features_file, allow_pickle=False)
        x_dev, y_dev = saved["x_dev"], saved["y_dev"]
        x_sq, y_sq = saved["x_sq"], saved["y_sq"]
        squad_note = str(saved["squad_note"])
        if "ranking" not in saved:
            raise SystemExit(f"{features_file} does not say which ranking its signals were computed on: run without --cached")
        ranking = json.loads(str(saved["ranking"]))
    else:
        x_dev, y_dev, x_sq, y_sq, squad_note = collect_all(args)
        ranking = asdict(Ranking.from_config(Config.from_env()))  # the ranking collect_all's signals were computed on
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(features_file, x_dev=x_dev, y_dev=y_dev, x_sq=x_sq, y_sq=y_sq, squad_note=squad_note, ranking=json.dumps(ranking))
    xs, ys, ws = [x_dev], [y_dev], [np.full(len(y_dev), 1.0 / len(y_dev))]
    if len(y_sq):
        xs.append(x_sq)
        ys.append(y_sq)
        ws.append(np.full(len(y_sq), 1.0 / len(y_sq)))

    x, y, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    # Balance the classes within the weights as well.
    for label in (0, 1):
        w[y == label] *= 0.5 / w[y == label].sum()
    w *= len(w)  # weights averaging 1, so the regularisation has its usual strength
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(x, y, sample_weight=w)

    p_dev = model.predict_proba(x_dev)[:, 1]
    best = None
    for threshold in np.linspace(0.05, 0.95, 91):
        answered = p_dev >= threshold
        recall_abstain = float(((~answered) & (y_dev == 0)).sum() / max(1, (y_dev == 0).sum()))
        over_refusal = float(((~answered) & (y_dev == 1)).sum() / max(1, (y_dev == 1).sum()))
        balanced = (recall_abstain + 1 - over_refusal) / 2
        key = (round(balanced, 6), -over_refusal)
        if best is None or key > best[0]:
            best = (key, float(threshold), recall_abstain, over_refusal)
    _, threshold, recall_abstain, over_refusal = best
    fit = {
        "dev_questions": int(len(y_dev)),
        "dev_abstain_recall": round(recall_abstain, 3),
        "dev_over_refusal": round(over_refusal, 3),
        "squad": squad_note,
    }
    if len(y_sq):
        p_sq = model.predict_proba(x_sq)[:, 1] >= threshold
        fit["squad_decision_accuracy"] = round(float((p_sq == (y_sq == 1)).mean()), 3)
        fit["squad_abstain_recall"] = round(float(((~p_sq) & (y_sq == 0)).sum() / max(1, (y_sq == 0).sum())), 3)
        fit["squad_over_refusal"] = round(float(((~p_sq) & (y_sq == 1)).sum() / max(1, (y_sq == 1).sum())), 3)
    out = {
        "features": list(FEATURES),
        "weights": [round(float(v), 5) for v in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 5),
        "threshold": round(threshold, 3),
        "retrieval": ranking,
        "fitted_on": f"eval set dev split + {squad_note}; python -m eval.calibrate; {time.strftime('%Y-%m-%d')}",
        "fit": fit,
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
