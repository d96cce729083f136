"""POST /api/verify: check claims against the passages given with them, with the citation check the
answers get (assistant/verify.py, through assistant/claim_check.py). Shapes as `assistant verify`:
a JSON array of `{"id", "claim", "source"}` in (or one such object), the same number of
`{"id", "label", "score", "evidence"}` out, in order (one object for one object). Behind the same
authentication as the other API routes; the request body limit applies."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends
from fastapi.concurrency import run_in_threadpool

from assistant.auth import Caller
from assistant.http.shared import ANSWER_RESPONSES, caller_scope, current_assistant, error_response

EXAMPLE = [{"id": "c1", "claim": "Jane Roe chairs the board.", "source": "The board is chaired by Jane Roe. It meets monthly."}]


def router() -> APIRouter:
    routes = APIRouter(tags=["verify"], responses={k: v for k, v in ANSWER_RESPONSES.items() if k in (401, 403)})

    @routes.post(
        "/api/verify",
        summary="Check claims against source passages: supported, contradicted or unsupported",
        responses={200: {"content": {"application/json": {"example": [
            {"id": "c1", "label": "supported", "score": 0.97, "evidence": "The board is chaired by Jane Roe."}]}}},
            422: {"description": "a claim is malformed (the message names it); none is checked"}},
    )
    async def verify(body: list[dict] | dict = Body(..., examples=[EXAMPLE]), caller: Caller = Depends(caller_scope),
                     assistant=Depends(current_assistant)):
        from assistant.claim_check import ClaimInputError, check, parse_claims

        one = isinstance(body, dict)
        try:
            claims = parse_claims([body] if one else body)
        except ClaimInputError as exc:
            return error_response(422, str(exc))
        results = await run_in_threadpool(check, claims, assistant.embedder, assistant.verifier)
        return results[0] if one else results

    return routes
