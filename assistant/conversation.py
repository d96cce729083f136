"""Follow-up questions -> a standalone search query.

With an LLM configured, the LLM rewrites (assistant/llm.py); without one, this deterministic rule
does. It does not guess what "he", "it" or "that report" stands for: a question that leans on the
conversation (a pronoun or a "one" standing for a noun, a demonstrative pointing at a noun, an opening
"And ..." or "What about ...", or three words or fewer) gets the previous turn written after it, in
brackets, the user's question and the first words of the answer ("What did she tell them? (Which health
secretary called in the trust leaders? Victoria Atkins, the Secretary of State ...)"). Retrieval then finds the passages of that
turn, and the reader, which reads the whole query against each sentence, picks the ones that answer
the follow-up. On the dev split's 41 follow-ups (eval/data/questions.jsonl, category follow_up;
30 of them written on 2026-12-04 by a writer who saw only the articles), 21 of the 31 answerable ones
cite a paragraph with the answer and 1 of the 10 unanswerable ones is refused (2026-12-04). The rule
was first chosen on 30 other follow-ups that are not in the repository (0.88 there, against 0.68 for
the earlier rule that substituted names for pronouns); on fresh ones it does worse, 0.68.

The query is for finding passages; whether they answer is judged on the question the user asked
(`judged_question`, read by the answer-or-abstain decision in assistant/core.py).
"""

from __future__ import annotations

import re

from assistant.answer import NOT_IN_SOURCES
from assistant.text import strip_markers

# Words that make a question lean on the conversation: pronouns, and pointing phrases (below).
_LEANING = {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "it", "its"}
_DEICTIC = re.compile(r"\b(that|this|the|those|these) (report|document|article|blog|organisation|organization|trust|speech|"
                      r"person|man|woman|idea|proposal|approach|plan|body|team|system|post|comment|publication)\b", re.I)
ANSWER_WORDS = 12  # of the previous answer: enough to name what it was about (12 and 20 tied on dev; 35 did worse)


# A question that opens by continuing the last turn: "And for a figure that rounds to zero?", "What about the second year?"
_CONTINUING = re.compile(r"^\W*(and|but|or|so|also|then|what about|how about|what of|same for)\b", re.I)
# "those units", "these figures", "that review": a demonstrative pointing at a noun. Not "that" before a
# determiner, pronoun or verb, where it is a conjunction or relative ("says that the ...", "that is").
_DEMONSTRATIVE = re.compile(r"\b(this|that|these|those)\s+(?!(the|a|an|it|its|they|them|he|she|we|you|i|there|is|was|are|were|has|have|had|"
                            r"will|would|can|could|should|may|might|must|do|does|did|be|been|not|in|on|of|to|for|by|with|from)\b)[a-z]", re.I)


# "one" standing for a noun said before ("How do I make one from Excel?", "Is there a cheaper one?", "Which
# ones apply?"): "one" ending the question or followed by a preposition, or "which one(s)". Not "one"
# before its noun ("one hospital", "one of the trusts").
_ONE = re.compile(r"\bwhich ones?\b|\bones?\b(?=\s*(?:[?.!,;]|$|(?:from|for|in|on|at|with|to|by|about|like|instead|too)\b))", re.I)


def needs_context(question: str) -> bool:
    """Does `question` lean on the conversation: a pronoun (or "one" standing for a noun), a
    demonstrative pointing at a noun, an opening connective, or no more than three words."""
    lowered = re.findall(r"[a-z’']+", question.lower())
    return (any(w in _LEANING for w in lowered) or bool(_DEICTIC.search(question)) or bool(_CONTINUING.search(question))
            or bool(_DEMONSTRATIVE.search(question)) or bool(_ONE.search(question)) or len(lowered) <= 3)


def rewrite(question: str, history: list[dict] | None) -> str:
    """A standalone search query for `question`, given the earlier turns."""
    if not history or not needs_context(question):
        return question
    asked = [m.get("content", "") for m in history if m.get("role") == "user" and m.get("content")]
    answered = [m.get("content", "") for m in history if m.get("role") == "assistant" and m.get("content")]
    if not asked:
        return question
    answer = strip_markers(answered[-1]).strip() if answered else ""
    if answer.startswith(NOT_IN_SOURCES):
        answer = ""  # an abstention says nothing about what was asked
    context = " ".join([asked[-1].strip(), *answer.split()[:ANSWER_WORDS]])
    return f"{question} ({context})"


def judged_question(question: str, searched_for: str) -> str:
    """What the answer-or-abstain decision reads: the question the user asked when `searched_for` is this
    rule's query (the previous turn in brackets is there for retrieval: judged against it, the sentence that
    answered the previous turn looks like an answer to this one), else `searched_for` (the question itself,
    or an LLM's standalone rewrite). On the dev follow-ups this took policy dev from 11 to 15 of 26 right
    (docs/benchmarks.md)."""
    return question if searched_for.startswith(f"{question} (") else searched_for
