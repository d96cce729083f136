"""The OpenAI-compatible routes: GET /v1/models (the one model) and POST /v1/chat/completions
(streaming too). The answer's citations come as footnotes in the text and as data in `citations`;
a stream's text events are the checked sentences (assistant/llm_answer.py), so only the footnotes
follow them."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.answer import Answer
from assistant.auth import Caller
from assistant.errors import AssistantError
from assistant.http.shared import (
    ANSWER_RESPONSES,
    Message,
    caller_scope,
    current_assistant,
    error_event,
    event_stream,
    split_chat,
    sse,
    started,
)

MODEL_NAME = "cited-assistant"


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ... are accepted and ignored

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    collections: list[str] | None = Field(default=None, description="extension: search only these collections")
    documents: list[str] | None = Field(default=None, description="extension: search only these documents")


class Completion:
    """One completion's identity, and its response or chunks in OpenAI's shape."""

    def __init__(self, model: str | None):
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model or MODEL_NAME

    def response(self, answer: Answer) -> dict:
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{
                "index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": answer.with_footnotes()},
            }],
            "citations": [c.to_dict() for c in answer.citations],
            "status": answer.status,  # answered, abstained or failed, as in the Answer JSON
            "abstained": answer.abstained,
            "searched_for": answer.searched_for,
        }

    def chunk(self, delta: dict, finish: str | None = None, **extra) -> str:
        return sse({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
        })

    def chunks(self, events):
        """The stream: a role chunk, the checked sentences, the footnotes, a stop chunk with the citations, [DONE]."""
        yield self.chunk({"role": "assistant", "content": ""})
        try:
            for event in events:
                if isinstance(event, Answer):
                    footnotes = event.with_footnotes()[len(event.answer):]
                    if footnotes:
                        yield self.chunk({"content": footnotes})
                    yield self.chunk({}, "stop", citations=[c.to_dict() for c in event.citations],
                                     status=event.status, abstained=event.abstained, searched_for=event.searched_for)
                else:
                    yield self.chunk({"content": event})
        except AssistantError as exc:
            yield error_event(exc)
        yield "data: [DONE]\n\n"


def router() -> APIRouter:
    routes = APIRouter(tags=["openai"])

    @routes.get("/v1/models", summary="The model list, for OpenAI-compatible front-ends")
    def models():
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "local"}]}

    @routes.post("/v1/chat/completions", responses=ANSWER_RESPONSES,
                 summary="OpenAI-compatible chat completion; citations as footnotes and in `citations`")
    def chat_completions(body: ChatCompletionRequest, caller: Caller = Depends(caller_scope),
                         assistant=Depends(current_assistant)):
        question, history = split_chat(body.messages)
        collections = caller.restrict(body.collections)
        completion = Completion(body.model)
        if not body.stream:
            answer = assistant.ask(question, history=history, collections=collections, documents=body.documents)
            return JSONResponse(completion.response(answer))
        events = started(assistant.stream(question, history=history, collections=collections, documents=body.documents))
        return event_stream(completion.chunks(events))

    return routes
