"""`assistant verifier calibrate`: fit the verifier's two thresholds on held-out claims.

    assistant verifier calibrate --claims ../shared/bench/policy-train --claims training/data/policy_claims_extra.jsonl
        [--model assistant/verifier_model] [--dry-run]

The claims read are those of the documents the training held out (verifier.json records them), so
no claim the model was trained on is used. Each is checked as the product checks an answer sentence
against the paragraph it cites (assistant/verify.py `check_claims`: what the model reads, the names
and numbers rule), then:

- `supported`: the P(entailment) threshold that maximises the mean of faithful claims accepted and
  not-supported claims rejected (balanced accuracy, so that neither side is traded away for the
  other because the held-out set has more of one);
- `contradicted`: given that, the P(contradiction) threshold that labels the most rejected claims
  right (contradictions as contradicted, unsupported additions and faithful claims the check did
  not accept as unsupported).

Both go into verifier.json's "decision", with the figures on the held-out claims and what they
were fitted on. Never fit on eval/data/claims_test.jsonl: that set is frozen, for measuring only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


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


def fit(found: list[dict]) -> tuple[float, float]:
    def balanced(t):
        f = figures_at(found, t, 1.01)
        return (f["faithful_accepted"] or 0) + (f["not_supported_rejected"] or 0)

    supported = float(max(GRID, key=lambda t: (round(balanced(t), 6), -abs(t - 0.5))))
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
    parser.add_argument("--float32", action="store_true", help="read the model unquantized (the product reads it in int8)")
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
    verifier = Verifier(args.model, quantize=not args.float32)
    found = measured(rows, verifier, Embedder())
    supported, contradicted = fit(found)
    figures = figures_at(found, supported, contradicted)
    decision = {"supported": supported, "contradicted": contradicted, "int8": not args.float32,
                "fitted_on": {"claims": len(rows), "documents": documents,
                              "rule": "supported: max balanced accuracy; contradicted: max three-way accuracy"},
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
