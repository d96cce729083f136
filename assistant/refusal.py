"""Answerability: does the retrieved evidence answer the question, or should the assistant abstain?

One score is rarely enough (notes/answering.md), so the decision is a small logistic model over
signals that separate "not in the sources" from "answerable":
- how close the best paragraph and the best sentence are to the question (embedding cosine);
- how much of the question's content is covered by the best evidence, weighted by IDF, and how
  much of its rare words (the ones that name what is asked about);
- whether the expected answer type is there (who -> a name, when -> a date, how many -> a number
  counting what is asked about, "what is his salary" -> an amount in figures);
- the margin of the best sentence over the next;
- how much of the question is about things the corpus never mentions (terms in no paragraph).
The weights live in `refusal_model.json` beside this file, fitted by `eval/calibrate.py` on the
evaluation set's dev split and SQuAD 2.0 (see docs/benchmarks.md for the fit and its figures).

The signals depend on which passages come first, so the model records the retrieval ranking it
was fitted on (fusion and weights), and the answerer computes the signals on that ranking even
when it answers from another: tuning retrieval never silently invalidates the calibration.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from assistant.text import content_terms

MODEL_FILE = Path(__file__).with_name("refusal_model.json")

FEATURES = (
    "top_dense",
    "top_sentence",
    "sentence_margin",
    "coverage",
    "rare_coverage",
    "missing_rare",
    "answer_type",
    "unseen",
)


@dataclass
class Signals:
    top_dense: float  # best paragraph cosine
    top_sentence: float  # best sentence cosine
    sentence_margin: float  # best sentence cosine minus the second best
    coverage: float  # IDF-weighted share of question terms in the best sentence's paragraph
    rare_coverage: float  # share of the question's rare terms found in the top passages
    missing_rare: float  # number of rare question terms absent from all top passages (capped at 3)
    answer_type: float  # 1 expected type present, 0 expected and absent, 0.5 nothing expected
    unseen: float = 0.0  # IDF-weighted share of the question's terms that occur nowhere in the corpus

    def vector(self) -> list[float]:
        return [getattr(self, name) for name in FEATURES]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RefusalModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float  # answer when P(answerable) >= threshold
    ranking: dict | None = None  # the retrieval ranking the signals were computed on (assistant.retrieval.Ranking)

    def probability(self, signals: Signals) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, signals.vector()))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def answerable(self, question: str, signals: Signals) -> bool:
        """Answer when the model says so, and never when the question wants a number, an amount or a date
        that none of the chosen sentences contains ("How many ambulances ...?")."""
        if expected_type(question) in ("number", "amount", "date") and signals.answer_type == 0.0:
            return False
        return self.probability(signals) >= self.threshold


@lru_cache(maxsize=1)
def load_model(path: str = str(MODEL_FILE)) -> RefusalModel:
    data = json.loads(Path(path).read_text())
    if list(data["features"]) != list(FEATURES):
        raise ValueError(f"{path} was fitted on other features: refit with `python -m eval.calibrate`")
    return RefusalModel(tuple(data["weights"]), float(data["bias"]), float(data["threshold"]), data.get("retrieval"))


# --- answer types ------------------------------------------------------------------------------

_WHO = re.compile(r"^\s*(who|whom|whose)\b", re.I)
# "When did/was ...?" wants a date; "When will it add value?" is usually answered by a condition
# ("if it supports ..."), so questions in the present or future expect no particular type.
_WHEN = re.compile(r"^\s*(when(?!\s+(will|would|should|can|could|do|does|is|are|might|must|may)\b)|((on|in|by|from|since|until)\s+)?(what|which) (year|date|day|month))\b", re.I)
# "What is his salary?" asks for an amount as surely as "How much is he paid?" does.
_AMOUNT = re.compile(r"^\s*what (is|was|are|were)\b.*\b(salary|salaries|wage|wages|budget|cost|price|fee|income|revenue|turnover|population|deficit)\b", re.I)
_HOW_MANY = re.compile(r"\bhow (many|much|long|old|large|big)\b|\b(what|which) ([\w-]+ )?(number|percentage|proportion|share|ratio|rate|figure|total)\b", re.I)
_DATE = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b|\b(january|february|march|april|may|june|july|august|september|october|november|december)\b|\b(christmas|winter|summer|spring|autumn|week|year|month|decade)\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|thousand|million|billion|dozen|half)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")


def expected_type(question: str) -> str | None:
    if _WHO.search(question):
        return "person"
    if _WHEN.search(question):
        return "date"
    if _AMOUNT.search(question):
        return "amount"
    if _HOW_MANY.search(question):
        return "number"
    return None


_COUNTED = re.compile(r"\bhow many\s+(.+?)(?=\s+(?:does|do|did|is|are|was|were|has|have|had|will|would|can|could|should|in|on|at|of|for)\b|[?,]|$)", re.I)
_CURRENCY = re.compile(r"[£$€]\s?\d")
_TOKEN = re.compile(r"[\w£$€.,’'-]+")


def counted_words(question: str) -> set[str]:
    """The stems of what a "how many" question counts ("How many acute trusts does ..." -> acute, trust)."""
    match = _COUNTED.search(question)
    return set(content_terms(" ".join(match.group(1).split()[:4]))) if match else set()


def counts_present(counted: set[str], text: str) -> bool:
    """Whether `text` gives a count of the thing counted: a number with one of its words in the four
    words after it ("six acute trusts", "1.4 million staff"), or a sum of money when money is counted.
    "How many community diagnostic centres ...?" is not answered by "six acute trusts"."""
    if counted & {"pound", "dollar", "euro"} and _CURRENCY.search(text):
        return True
    tokens = _TOKEN.findall(text)
    for i, token in enumerate(tokens):
        if _NUMBER.fullmatch(token.strip(".,")) or re.fullmatch(r"[£$€]?\d[\d.,]*%?", token.strip(".,")):
            if counted & set(content_terms(" ".join(tokens[i + 1 : i + 5]))):
                return True
    return False


def answer_type_present(question: str, text: str) -> float:
    """1 when `text` holds what the question's form asks for, 0 when it does not, 0.5 when the
    question asks for no particular type; a "how many" question needs a count of what it counts."""
    kind = expected_type(question)
    present = type_present(kind, text)
    if kind == "number" and present:
        counted = counted_words(question)
        if counted and not counts_present(counted, text):
            return 0.0
    return present


def type_present(kind: str | None, text: str) -> float:
    if kind is None:
        return 0.5
    if kind == "person":
        return 1.0 if _NAME.search(text) else 0.0
    if kind == "date":
        return 1.0 if _DATE.search(text) else 0.0
    if kind == "amount":
        return 1.0 if re.search(r"\d", text) else 0.0  # "one of the case studies" is no salary
    return 1.0 if _NUMBER.search(text) else 0.0
