"""What every router of the HTTP service shares: the one Assistant (`AssistantHolder`, reached by the
`current_assistant` dependency), the caller (`caller_scope`, from assistant/auth.py), JSON error
bodies in OpenAI's shape, server-sent events, and chat messages."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from assistant.auth import caller_scope  # noqa: F401 - the caller dependency, re-exported for the routers
from assistant.config import Config
from assistant.errors import BadQuestion, IndexNotReady

log = logging.getLogger("assistant.server")

ERROR_TYPES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 422: "invalid_request", 429: "too_many_requests", 500: "internal_error", 503: "not_ready",
}

# The error responses of the answering routes, for the OpenAPI docs.
ANSWER_RESPONSES = {
    401: {"description": "no or bad credentials"}, 403: {"description": "collection outside the caller's scope"},
    413: {"description": "body too large"}, 422: {"description": "empty or over-long question, bad body"},
    503: {"description": "index not ready"},
}


def error_body(status: int, message: str) -> dict:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "error"), "status": status}}


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def error_status(exc: Exception) -> int:
    """The HTTP status of an AssistantError raised mid-stream."""
    if isinstance(exc, BadQuestion):
        return 422
    return 503


# --- the shared Assistant ------------------------------------------------------------------------


class AssistantHolder:
    """Opens the Assistant once and shares it between all requests (models load once). While the
    index is missing it retries at most every `retry_s` seconds, so an ingest run after the server
    started is picked up without a restart."""

    def __init__(self, config: Config, assistant=None, retry_s: float = 2.0):
        self.config = config
        self.retry_s = retry_s
        self._assistant = assistant
        self._lock = threading.Lock()
        self._last_try = float("-inf")
        self._error = "the index is being opened"
        self.warm = False

    def get(self):
        assistant = self._assistant
        if assistant is not None:
            return assistant
        with self._lock:
            if self._assistant is None and time.monotonic() - self._last_try >= self.retry_s:
                self._open()
            if self._assistant is None:
                raise IndexNotReady(self._error)
            return self._assistant

    def _open(self) -> None:
        from assistant.core import Assistant

        self._last_try = time.monotonic()
        try:
            self._assistant = Assistant.open(config=self.config)
        except IndexNotReady as exc:
            self._error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and as 503s, never a crash
            log.exception("opening the index failed")
            self._error = f"the index could not be opened ({exc.__class__.__name__}: {exc})"

    def warm_up_in_background(self) -> None:
        def work():
            try:
                assistant = self.get()
                assistant.warm_up()
                self.warm = True
            except IndexNotReady as exc:
                log.warning("not ready: %s", exc)
            except Exception:  # noqa: BLE001
                log.exception("warm-up failed")

        threading.Thread(target=work, name="assistant-warm-up", daemon=True).start()


def current_assistant(request: Request):
    """FastAPI dependency: the shared Assistant (IndexNotReady -> 503)."""
    return request.app.state.assistants.get()


# --- chat messages ------------------------------------------------------------------------------------


class Message(BaseModel):
    role: str = Field(description="user, assistant (system messages are ignored)")
    content: str | list[dict[str, Any]] | None = Field(default="", description="text, or OpenAI content parts")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type", "text") == "text")
        return self.content or ""


def history_of(messages: list[Message]) -> list[dict]:
    return [{"role": m.role, "content": m.text()} for m in messages if m.role in ("user", "assistant")]


def split_chat(messages: list[Message]) -> tuple[str, list[dict]]:
    """(question, history) from a message list: the last message must be the user's."""
    last = messages[-1]
    if last.role != "user":
        raise BadQuestion("the last message must be the user's question (role 'user')")
    return last.text(), history_of(messages[:-1])


# --- server-sent events --------------------------------------------------------------------------------


def sse(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def error_event(exc: Exception, event: str | None = None) -> str:
    """The server-sent event for an AssistantError raised mid-stream (the response has started)."""
    return sse(error_body(error_status(exc), str(exc)), event)


def started(events: Iterator) -> Iterator:
    """Run a stream to its first event now, so a bad question is a 422 rather than a broken stream;
    the events, that first one included."""
    first = next(events)

    def chain():
        yield first
        yield from events

    return chain()


def event_stream(events: Iterator[str]):
    """A `text/event-stream` response of already formatted events."""
    from fastapi.responses import StreamingResponse

    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
