"""Checking claims given as text: `assistant verify FILE.jsonl --out OUT.jsonl` and `POST /api/verify`.

Input, a line of the file or an object of the request: `{"id", "claim", "source"}`, where `source` is
the passage text the claim should rest on. Output, in the same order: `{"id", "label", "score",
"evidence"}`: label `supported`, `contradicted` or `unsupported`; score P(supported); evidence the
source sentence(s) the verdict rests on. The check is assistant/verify.py's, the one the answers get.

Bad input is refused as a whole with a clear error naming the line (a claim is never silently
dropped): a line that is not a JSON object, a missing or empty field, an id given twice, more than
MAX_CLAIMS claims, a claim over MAX_CLAIM_CHARS or a source over MAX_SOURCE_CHARS characters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError

MAX_CLAIMS = 10_000
MAX_CLAIM_CHARS = 2_000
MAX_SOURCE_CHARS = 20_000
MAX_FILE_BYTES = 200 * 1024 * 1024


class ClaimInputError(AssistantError):
    """The claims given cannot be checked as they are (the message says which and why)."""


@dataclass(frozen=True)
class ClaimToCheck:
    id: str
    claim: str
    source: str


def parse_claim(obj, where: str) -> ClaimToCheck:
    """One input object, validated; `where` names it in errors ("line 3", "item 2")."""
    if not isinstance(obj, dict):
        raise ClaimInputError(f"{where}: expected an object with id, claim and source")
    values = {}
    for name in ("id", "claim", "source"):
        value = obj.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "id":
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ClaimInputError(f"{where}: {name!r} is missing or empty (it must be a non-empty string)")
        values[name] = value
    if len(values["claim"]) > MAX_CLAIM_CHARS:
        raise ClaimInputError(f"{where}: the claim has {len(values['claim']):,} characters; at most {MAX_CLAIM_CHARS:,}")
    if len(values["source"]) > MAX_SOURCE_CHARS:
        raise ClaimInputError(f"{where}: the source has {len(values['source']):,} characters; at most {MAX_SOURCE_CHARS:,} "
                              "(give the passage the claim rests on, not a whole document)")
    return ClaimToCheck(values["id"], values["claim"], values["source"])


def parse_claims(objects: list, names: list[str] | None = None) -> list[ClaimToCheck]:
    """A list of input objects, validated as a whole; `names` says where each came from, for errors
    (default "item 1", "item 2", ...)."""
    if len(objects) > MAX_CLAIMS:
        raise ClaimInputError(f"{len(objects):,} claims; at most {MAX_CLAIMS:,} at once (split the file)")
    names = names or [f"item {n}" for n in range(1, len(objects) + 1)]
    claims = [parse_claim(obj, name) for obj, name in zip(objects, names)]
    seen: dict[str, str] = {}
    for claim, name in zip(claims, names):
        if claim.id in seen:
            raise ClaimInputError(f"{name}: the id {claim.id!r} was given already ({seen[claim.id]}); ids must be unique")
        seen[claim.id] = name
    return claims


def read_claims_file(path: Path) -> list[ClaimToCheck]:
    """A JSONL file of claims (blank lines skipped), validated as a whole."""
    if not path.is_file():
        raise ClaimInputError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ClaimInputError(f"{path} is {path.stat().st_size / 1e6:.0f} MB; at most {MAX_FILE_BYTES / 1e6:.0f} MB")
    objects, names = [], []
    with path.open("r", encoding="utf-8-sig", errors="strict") as fh:
        try:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    objects.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ClaimInputError(f"{path}, line {n}: not JSON ({exc.msg})") from None
                names.append(f"{path}, line {n}")
        except UnicodeDecodeError as exc:
            raise ClaimInputError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not objects:
        raise ClaimInputError(f"{path} holds no claims")
    return parse_claims(objects, names)


def check(claims: list[ClaimToCheck], embedder, verifier=None) -> list[dict]:
    """The output objects, one per claim, in order."""
    from assistant.verify import check_claims

    verdicts = check_claims([(c.id, c.claim, c.source) for c in claims], embedder, verifier)
    return [v.as_json() for v in verdicts]
