"""`assistant verifier calibrate`: fit the verifier's two thresholds on held-out claims.

    assistant verifier calibrate --claims ../shared/bench/policy-train --claims training/data/policy_claims_extra.jsonl
        [--model assistant/verifier_model] [--dry-run]

The claims read are those of the documents the training held out (verifier.json records them), so
no claim the model was trained on is used. Each is checked as the product checks an answer sentence
against the paragraph it cites (assistant/verify.py `check_claims`: what the model reads, the names
and numbers rule), then:

- `supported`: the P(entailment) threshold that clears the product's three targets (faithful claims
  accepted >= 0.85, not-supported claims rejected >= 0.80, contradictions rejected >= 0.85; issue 21)
  by the widest margin (or misses them by the least), i.e. that maximises the smallest of the three
  differences, so no side is traded away for another;
- `contradicted`: given that, the P(contradiction) threshold that labels the most rejected claims
  right (contradictions as contradicted, unsupported additions and faithful claims the check did
  not accept as unsupported).

Both go into verifier.json's "decision", with the figures on the held-out claims and what they
were fitted on, and one figure that is not fitted on: unrelated claims rejected (up to 300 held-out
claims, each set against a passage of another held-out document, as when a sentence cites the wrong
paragraph). Never fit on eval/data/claims_test.jsonl: that set is frozen, for measuring only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)
TARGETS = {"faithful_accepted": 0.85, "not_supported_rejected": 0.80, "contradictions_rejected": 0.85}


def held_out_claims(claim_paths: list[str], documents: list[str]) -> list[dict]:
    from training.data_files import data_files, read_jsonl
    from training.verifier_data import CLAIM_SHAPE

    rows = []
    for path in data_files(claim_paths, CLAIM_SHAPE, None):
        rows += [r for r in read_jsonl(path, None) if r.get("doc") in set(documents)]
    return rows


def measured(rows: list[dict], verifier, embedder) -> list[dict]:
    """Each claim with what the check found, before any threshold: score, contradiction, verbatim, missing."""
    from assistant.verify import AnswerSentence, check_against, evidence_from_text

    vectors = embedder.encode([" ".join(r["hypothesis"].split()) for r in rows])
    out = []
    for row, vector in zip(rows, vectors):
        passage = evidence_from_text("source", row["premise"], embedder)
        sentence = AnswerSentence(" ".join(row["hypothesis"].split()), [1])
        check = check_against(sentence.text, vector, 1, passage, verifier)
        out.append({"label": str(row["label"]).lower(), "kind": str(row.get("kind") or "").lower().replace(" ", "_"), "score": check.score,
                    "contradiction": check.contradiction, "verbatim": check.verbatim, "missing": bool(check.missing),
                    "checkable": check.score > 0 or check.verbatim})
    return out


def labels_at(found: list[dict], supported: float, contradicted: float) -> list[str]:
    """The labels the product's rule (assistant/verify.py `decide`) gives at these thresholds."""
    from assistant.entailment import Thresholds
    from assistant.verify import SUPPORTED, UNSUPPORTED, decide

    thresholds = Thresholds(supported, contradicted)
    return [SUPPORTED if f["verbatim"] else decide(f["score"], f["contradiction"], f["missing"], thresholds) if f["checkable"]
            else UNSUPPORTED for f in found]


def figures_at(found: list[dict], supported: float, contradicted: float) -> dict:
    """The issue's figures on `found` at these thresholds."""
    predicted = labels_at(found, supported, contradicted)
    gold = [f["label"] for f in found]

    def share(mask, right):
        picked = [r for m, r in zip(mask, right) if m]
        return round(float(np.mean(picked)), 4) if picked else None

    faithful = [g == "entailment" for g in gold]
    accepted = [p == "supported" for p in predicted]
    expected = {"entailment": "supported", "contradiction": "contradicted", "neutral": "unsupported"}
    by_kind: dict[str, list[bool]] = {}
    for f, p in zip(found, predicted):
        by_kind.setdefault(f["kind"] or "?", []).append((p == "supported") == (f["label"] == "entailment"))
    return {
        "claims": len(found),
        "faithful_accepted": share(faithful, accepted),
        "not_supported_rejected": share([not x for x in faithful], [not a for a in accepted]),
        "contradictions_rejected": share([g == "contradiction" for g in gold], [not a for a in accepted]),
        "contradictions_labelled_contradicted": share([g == "contradiction" for g in gold], [p == "contradicted" for p in predicted]),
        "three_way_accuracy": round(float(np.mean([expected.get(g) == p for g, p in zip(gold, predicted)])), 4),
        "right_by_kind": {k: {"claims": len(v), "right": round(float(np.mean(v)), 4)} for k, v in sorted(by_kind.items())},
    }


def unrelated_rows(rows: list[dict], limit: int = 300, seed: int = 0) -> list[dict]:
    """Held-out claims set against a passage of another document, labelled neutral."""
    import random

    rng = random.Random(seed)
    out = []
    for row in rng.sample(rows, min(limit, len(rows))):
        others = [r for r in rows if r["doc"] != row["doc"]]
        if others:
            out.append({**row, "premise": rng.choice(others)["premise"], "label": "neutral", "kind": "unrelated"})
    return out


def fit(found: list[dict]) -> tuple[float, float]:
    def margin(t):
        f = figures_at(found, t, 1.01)
        return min((f[name] or 0) - target for name, target in TARGETS.items())

    supported = float(max(GRID, key=lambda t: (round(margin(t), 6), -abs(t - 0.5))))
    contradicted = float(max(GRID, key=lambda t: (figures_at(found, supported, t)["three_way_accuracy"], -abs(t - 0.5))))
    return supported, contradicted


def main(argv: list[str] | None = None) -> int:
    from assistant.embedding import Embedder
    from assistant.entailment import VERIFIER_DIR, VERIFIER_FILE, Verifier, VerifierError, read_verifier_json
    from training.model_card import write_verifier_card

    parser = argparse.ArgumentParser(prog="assistant verifier calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(VERIFIER_DIR), help=f"the verifier folder (default: {VERIFIER_DIR})")
    parser.add_argument("--claims", action="append", default=[], metavar="PATH",
                        help="the in-domain claim files the model was trained with (their held-out documents are read)")
    parser.add_argument("--int8", action="store_true",
                        help="read the model with int8 dynamic quantization (the product reads it in float32: int8 cost "
                             "0.08 of faithful claims accepted on the held-out claims)")
    parser.add_argument("--dry-run", action="store_true", help="print the fit, do not write verifier.json")
    args = parser.parse_args(argv)
    try:
        meta = read_verifier_json(args.model)
    except VerifierError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    documents = (meta.get("data") or {}).get("held_out_documents") or []
    rows = held_out_claims(args.claims, documents)
    if not rows:
        print("error: no claims of the held-out documents "
              f"({', '.join(documents) or 'none recorded'}) in the --claims files", file=sys.stderr)
        return 2
    verifier = Verifier(args.model, quantize=args.int8)
    embedder = Embedder()
    found = measured(rows, verifier, embedder)
    supported, contradicted = fit(found)
    figures = figures_at(found, supported, contradicted)
    unrelated = labels_at(measured(unrelated_rows(rows), verifier, embedder), supported, contradicted)
    figures["unrelated_rejected"] = round(float(np.mean([label != "supported" for label in unrelated])), 4) if unrelated else None
    decision = {"supported": supported, "contradicted": contradicted, "int8": args.int8,
                "fitted_on": {"claims": len(rows), "documents": documents,
                              "rule": "supported: widest margin over the targets (faithful accepted 0.85, not supported rejected 0.80, "
                                      "contradictions rejected 0.85); "
                                      "contradicted: max three-way accuracy"},
                "figures": figures}
    print(json.dumps(decision, indent=2))
    if not args.dry_run:
        path = Path(args.model) / VERIFIER_FILE
        meta["decision"] = decision
        path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        write_verifier_card(Path(args.model))
        print(f"wrote the decision into {path} and the model card")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
