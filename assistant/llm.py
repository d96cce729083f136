"""A small client for any OpenAI-compatible chat server (vLLM, llama.cpp server, Ollama, a gateway).

Owns the HTTP conversation with the LLM and nothing else: `LLMClient.complete(messages)` returns
the whole reply; `LLMClient.stream(messages)` yields text pieces as the server sends them
(server-sent events, `data: {...}` lines ending with `data: [DONE]`). Every way the server can
fail — refused connection, no reply within the timeout, an HTTP error status, a body that is not
the expected JSON, an empty reply — raises `LLMUnavailable` with a short reason, so callers have
one exception to catch and fall back on.

`base_url` follows the OpenAI client convention: it ends where `/chat/completions` is appended
(`http://127.0.0.1:8080/v1`); a bare `http://host:port` gets `/v1` added.

Timeouts: `timeout_s` bounds the connection and each wait for bytes (time to the first token,
and any pause between tokens); the whole reply must also arrive within `3 * timeout_s`, so a
server that trickles forever still fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from assistant.errors import AssistantError

DEFAULT_MAX_TOKENS = 256
TOTAL_TIMEOUT_FACTOR = 3.0


class LLMUnavailable(AssistantError):
    """The LLM server is down, too slow, or answered with something that is not a chat completion."""


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str

    def to_dict(self) -> dict:
        return {"role": self.role, "content": self.content}


def chat_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if urlsplit(base).path in ("", "/"):
        base += "/v1"
    return base + "/chat/completions"


class LLMClient:
    """One client per answerer; thread-safe (httpx.Client is)."""

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        api_key: str = "not-needed",
        timeout_s: float = 30.0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
    ):
        self.url = chat_url(base_url)
        self.model = model
        self.timeout_s = float(timeout_s)
        self.max_tokens = max_tokens
        self.temperature = temperature
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0)),
            trust_env=False,  # an LLM on 127.0.0.1 must not be sent through a proxy from the environment
        )

    def close(self) -> None:
        self._http.close()

    def _payload(self, messages: list[ChatMessage], stream: bool, max_tokens: int | None) -> dict:
        return {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }

    def complete(self, messages: list[ChatMessage], max_tokens: int | None = None) -> str:
        """The whole reply text. Raises LLMUnavailable."""
        deadline = time.monotonic() + self.timeout_s * TOTAL_TIMEOUT_FACTOR
        try:
            with self._http.stream("POST", self.url, json=self._payload(messages, False, max_tokens)) as response:
                _check_status(response)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if time.monotonic() > deadline:
                        raise LLMUnavailable(f"no complete reply within {self.timeout_s * TOTAL_TIMEOUT_FACTOR:g} s")
        except httpx.TimeoutException:
            raise LLMUnavailable(f"no reply within {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise LLMUnavailable(_describe(exc)) from None
        try:
            data = json.loads(bytes(body))
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMUnavailable("the server's reply is not a chat completion") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMUnavailable("the server returned an empty answer")
        return text

    def stream(self, messages: list[ChatMessage], max_tokens: int | None = None) -> Iterator[str]:
        """Yield pieces of the reply as they arrive. Raises LLMUnavailable, possibly after some
        pieces were yielded (the caller decides what to do with a partial reply)."""
        deadline = time.monotonic() + self.timeout_s * TOTAL_TIMEOUT_FACTOR
        got_text = False
        try:
            with self._http.stream("POST", self.url, json=self._payload(messages, True, max_tokens)) as response:
                _check_status(response)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # Some servers ignore stream=true and send one JSON completion.
                    body = response.read()
                    try:
                        text = json.loads(body)["choices"][0]["message"]["content"]
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise LLMUnavailable("the server's reply is not a chat completion stream") from None
                    if not isinstance(text, str) or not text.strip():
                        raise LLMUnavailable("the server returned an empty answer")
                    yield text
                    return
                done = False
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise LLMUnavailable(f"no complete reply within {self.timeout_s * TOTAL_TIMEOUT_FACTOR:g} s")
                    line = line.strip()
                    if not line or line.startswith(":"):
                        continue  # keep-alive comment or event separator
                    if not line.startswith("data:"):
                        if line.startswith(("event:", "id:", "retry:")):
                            continue
                        raise LLMUnavailable("the server's stream is not server-sent events")
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    piece, finished = _delta_text(data)
                    if piece:
                        got_text = True
                        yield piece
                    done = done or finished
                if not done:
                    # Servers end a stream with `data: [DONE]` (or a chunk with a finish_reason);
                    # a stream that just stops was cut off: the reply may be incomplete.
                    raise LLMUnavailable("the stream broke off before the answer was complete")
        except httpx.TimeoutException:
            raise LLMUnavailable(f"no reply within {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise LLMUnavailable(_describe(exc)) from None
        if not got_text:
            raise LLMUnavailable("the server returned an empty answer")


def _delta_text(data: str) -> tuple[str, bool]:
    """The text of one stream chunk, and whether the chunk says the reply is finished."""
    try:
        event = json.loads(data)
    except ValueError:
        raise LLMUnavailable("the server's stream carries something that is not JSON") from None
    if not isinstance(event, dict):
        raise LLMUnavailable("the server's stream carries something that is not a completion chunk")
    if "error" in event:
        message = event["error"].get("message") if isinstance(event["error"], dict) else event["error"]
        raise LLMUnavailable(f"the server reported an error: {str(message)[:200]}")
    try:
        choice = event["choices"][0]
        delta = choice.get("delta") or choice.get("message") or {}
    except (KeyError, IndexError, TypeError, AttributeError):
        return "", False  # e.g. a final usage-only chunk
    text = delta.get("content") if isinstance(delta, dict) else None
    return (text if isinstance(text, str) else ""), bool(choice.get("finish_reason"))


def _check_status(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            detail = response.read().decode("utf-8", "replace")[:200]
        except httpx.HTTPError:
            detail = ""
        raise LLMUnavailable(f"the server answered HTTP {response.status_code}" + (f": {detail}" if detail else ""))


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to the server"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return "the connection to the server broke off"
    return f"{type(exc).__name__}: {exc}"[:200]
