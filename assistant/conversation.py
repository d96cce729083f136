"""Follow-up questions -> a standalone search query.

With an LLM configured, the LLM rewrites (assistant/llm.py); without one, this deterministic rule
does: a question that leans on the conversation ("his organisation", "it", "that report") gets the
subject of the previous turns written in. The subject is the last named thing the user asked about
(a run of capitalised words, e.g. "David Dalton"), else the content words of the previous question.
"""

from __future__ import annotations

import re

from assistant.text import STOPWORDS

_PRONOUNS = {
    "he": "{s}", "she": "{s}", "him": "{s}", "her": "{s}'s", "his": "{s}'s", "hers": "{s}'s",
    "they": "{s}", "them": "{s}", "their": "{s}'s", "theirs": "{s}'s",
    "it": "{s}", "its": "{s}'s",
}
_DEICTIC = re.compile(r"\b(that|this|the|those|these) (report|document|article|blog|organisation|organization|trust|speech|"
                      r"person|man|woman|idea|proposal|approach|plan|body|team|system|post|comment|publication)\b", re.I)
_NAME_RUN = re.compile(r"\b([A-Z][\w’'\-]*(?:\s+(?:of|the|for|and|de|van)?\s*[A-Z][\w’'\-]*)*)")
_QUESTION_WORDS = {"Who", "What", "When", "Where", "Why", "How", "Which", "Is", "Are", "Was", "Were", "Did", "Does", "Do",
                   "Can", "Could", "Should", "Would", "Tell", "And", "But", "So", "The", "A", "An", "In", "On", "I"}


def needs_context(question: str) -> bool:
    lowered = re.findall(r"[a-z’']+", question.lower())
    return any(w in _PRONOUNS for w in lowered) or bool(_DEICTIC.search(question)) or len(lowered) <= 3


def subject_of(text: str) -> str | None:
    """The last named thing in `text`: the longest capitalised run, preferring multi-word names."""
    best = None
    for match in _NAME_RUN.finditer(text):
        words = [w for w in match.group(1).split() if w not in _QUESTION_WORDS]
        if not words:
            continue
        name = re.sub(r"['’]s$", "", " ".join(words))
        if best is None or len(name.split()) >= len(best.split()):
            best = name
    return best


def rewrite(question: str, history: list[dict] | None) -> str:
    """A standalone search query for `question`, given the earlier turns."""
    if not history or not needs_context(question):
        return question
    previous_questions = [m.get("content", "") for m in history if m.get("role") == "user" and m.get("content")]
    if not previous_questions:
        return question
    subject = None
    for text in reversed(previous_questions):
        subject = subject_of(text)
        if subject:
            break
    if subject:
        def swap(match: re.Match) -> str:
            word = match.group(0)
            template = _PRONOUNS[word.lower()]
            return template.format(s=subject)

        rewritten = re.sub(r"\b(" + "|".join(_PRONOUNS) + r")\b", swap, question, flags=re.I)
        rewritten = _DEICTIC.sub(lambda m: f"{subject}", rewritten) if rewritten == question else rewritten
        if rewritten != question:
            return rewritten
        return f"{question} ({subject})"
    keywords = [w for w in re.findall(r"[A-Za-z’'\-]+", previous_questions[-1]) if w.lower() not in STOPWORDS]
    return f"{question} ({' '.join(keywords)})" if keywords else question
