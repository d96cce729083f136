"""Training data for the verifier (the claim checker): (premise, hypothesis) pairs labelled
entailment, neutral or contradiction.

- Public NLI pairs (`nli`): ../shared/bench/qa-train-extra's SNLI and MultiNLI files
  (`{"premise","hypothesis","label"}`). A share of their premises is held out for validation, every
  hypothesis of a held-out premise with it.
- In-domain claims (`claims`): written over the policy-corpus train documents
  (`{"id","doc","premise","hypothesis","label","kind"}`; kinds such as paraphrase, negation, role
  swap, antonym, addition), seen `claims_repeat` times per epoch because they are few. Whole
  documents are held out for validation, the same ones the reader holds out
  (training/data_files.py `held_out_documents`), so the in-domain figures measure unseen documents.
- Unrelated pairs (`unrelated`): a claim set against a passage about something else (a premise of
  another document, or for NLI of another premise), labelled neutral, kind "unrelated". Neither data
  set has such pairs, yet the product meets them whenever a sentence cites the wrong paragraph; a
  model never shown one said "entailment" with P 0.99 for a sentence about goals against a paragraph
  about ambulance waits. They are drawn at random (seeded) from the training pairs only.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from assistant.entailment import LABELS  # the head's order, defined once
from training.data_files import TrainingDataError, data_files, held_out_documents, plain_name, read_jsonl, sha256_of

NLI_SHAPE = ("premise", "hypothesis", "label")
CLAIM_SHAPE = ("doc", *NLI_SHAPE)


@dataclass(frozen=True)
class NliPair:
    premise: str
    hypothesis: str
    label: int  # index into LABELS
    source: str  # the file it came from
    kind: str = ""  # in-domain claims: how the claim was made (paraphrase, negation, role_swap, ...)
    doc: str = ""


@dataclass
class VerifierData:
    train: list[NliPair] = field(default_factory=list)
    validation: list[NliPair] = field(default_factory=list)  # public NLI, held out by premise
    in_domain_validation: list[NliPair] = field(default_factory=list)  # claims of the held-out documents
    file_hashes: dict[str, str] = field(default_factory=dict)
    held_out_documents: list[str] = field(default_factory=list)
    repeats: dict[str, int] = field(default_factory=dict)  # source -> times its pairs are seen per epoch
    left_out: dict[str, int] = field(default_factory=dict)  # why -> records left out

    def repeat_of(self, pair: NliPair) -> int:
        return self.repeats.get(pair.source, 1)

    def describe(self) -> dict:
        def labels(pairs):
            return dict(sorted(Counter(LABELS[p.label] for p in pairs).items()))

        return {
            "train_pairs": len(self.train),
            "train_pairs_per_epoch": sum(self.repeat_of(p) for p in self.train),
            "train_labels": labels(self.train),
            "train_pairs_by_source": dict(sorted(Counter(p.source for p in self.train).items())),
            "repeats": dict(sorted(self.repeats.items())),
            "validation_pairs": len(self.validation),
            "validation_labels": labels(self.validation),
            "in_domain_validation_pairs": len(self.in_domain_validation),
            "in_domain_validation_labels": labels(self.in_domain_validation),
            "in_domain_validation_kinds": dict(sorted(Counter(p.kind for p in self.in_domain_validation).items())),
            "held_out_documents": self.held_out_documents,
            "files_sha256": self.file_hashes,
            "left_out": self.left_out,
        }


def _pairs(rows: list[dict], source: str, left_out: dict) -> list[NliPair]:
    out = []
    for row in rows:
        label = str(row["label"]).strip().lower()
        if label not in LABELS:
            left_out[f"{source}: label {label!r}"] = left_out.get(f"{source}: label {label!r}", 0) + 1
            continue
        out.append(NliPair(row["premise"], row["hypothesis"], LABELS.index(label), source,
                           str(row.get("kind") or "").strip().lower().replace(" ", "_"), str(row.get("doc") or "")))
    return out


UNRELATED = "unrelated"  # the source name (and kind) of the unrelated pairs


def unrelated_pairs(pairs: list[NliPair], share: float, rng: random.Random) -> list[NliPair]:
    """About `share` x len(pairs) neutral pairs: a hypothesis of `pairs` against a premise of another
    document (in-domain claims) or another premise (NLI pairs, which have no document)."""
    out = []
    if len(pairs) < 2 or share <= 0:
        return out
    for pair in rng.sample(pairs, min(len(pairs), round(share * len(pairs)))):
        for _ in range(20):  # a few tries to find a passage from elsewhere
            other = pairs[rng.randrange(len(pairs))]
            if other.premise != pair.premise and (not pair.doc or other.doc != pair.doc):
                out.append(NliPair(other.premise, pair.hypothesis, LABELS.index("neutral"), UNRELATED, UNRELATED, other.doc))
                break
    return out


def load_verifier_data(nli: list, claims: list, validation_share: float = 0.1, seed: int = 13, limit: int | None = None,
                       claims_repeat: int = 8, holdout_docs: int = 3, log=None, unrelated: float = 0.0) -> VerifierData:
    """The NLI pairs of `nli` (files or folders; a `validation_share` of premises held out) and the
    claims of `claims` (`holdout_docs` documents held out, the rest seen `claims_repeat` times per
    epoch), plus `unrelated` x as many unrelated pairs as there are training claims (and a tenth of
    that share of the NLI pairs), seen twice per epoch. `limit` keeps the first N records of each file
    (smoke tests)."""
    data = VerifierData()
    rng = random.Random(seed)
    try:
        nli_files = [p for p in data_files(nli or [], NLI_SHAPE, log) if "doc" not in read_jsonl(p, 1)[0]]
        for path in nli_files:
            name = plain_name(path)
            data.file_hashes[name] = sha256_of(path)
            pairs = _pairs(read_jsonl(path, limit), name, data.left_out)
            premises = sorted({p.premise for p in pairs})
            rng.shuffle(premises)
            held = set(premises[: round(len(premises) * validation_share)])
            data.train += [p for p in pairs if p.premise not in held]
            data.validation += [p for p in pairs if p.premise in held]
        claim_pairs = {}
        for path in data_files(claims or [], CLAIM_SHAPE, log):
            name = plain_name(path)
            data.file_hashes[name] = sha256_of(path)
            claim_pairs[name] = _pairs(read_jsonl(path, limit), name, data.left_out)
    except KeyError as exc:
        raise TrainingDataError(f"a record lacks the field {exc}") from exc
    data.held_out_documents = held_out_documents([p.doc for pairs in claim_pairs.values() for p in pairs], holdout_docs, seed)
    held_docs = set(data.held_out_documents)
    nli_train = list(data.train)
    claims_train = []
    for name, pairs in claim_pairs.items():
        claims_train += [p for p in pairs if p.doc not in held_docs]
        data.in_domain_validation += [p for p in pairs if p.doc in held_docs]
        data.repeats[name] = max(1, claims_repeat)
    data.train += claims_train
    if unrelated > 0:
        extra = unrelated_pairs(claims_train, unrelated, rng) + unrelated_pairs(nli_train, unrelated / 10, rng)
        data.train += extra
        data.repeats[UNRELATED] = 2
    if not data.train:
        raise TrainingDataError("no training pairs: give --nli and/or --claims files or folders")
    return data

