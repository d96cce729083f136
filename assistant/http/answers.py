"""The answering routes: POST /api/ask, /api/ask/stream (server-sent events: `delta` pieces, the
checked sentences, then `answer`) and /api/chat (the same events with `"stream": true`; the intranet
widget, assistant/widget.py, reads them). Every answer is the shared Answer JSON,
`Answer.to_dict()`, documented by the model generated from it (assistant/http/schema.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from assistant.answer import Answer
from assistant.auth import Caller
from assistant.errors import AssistantError
from assistant.http.schema import answer_model
from assistant.http.shared import (
    ANSWER_RESPONSES,
    Message,
    caller_scope,
    current_assistant,
    error_event,
    event_stream,
    history_of,
    split_chat,
    sse,
    started,
)


class AskRequest(BaseModel):
    question: str = Field(description="the question (1 to ASSISTANT max question characters)")
    history: list[Message] = Field(default_factory=list, description="the conversation so far, oldest first")
    collections: list[str] | None = Field(default=None, description="search only these collections")
    documents: list[str] | None = Field(default=None, description="search only these document ids")
    id: str | None = Field(default=None, description="echoed back in the Answer")


class ChatRequest(BaseModel):
    messages: list[Message] = Field(min_length=1, description="the conversation; the last one is the user's question")
    collections: list[str] | None = None
    documents: list[str] | None = None
    id: str | None = None
    stream: bool = Field(default=False, description="answer as server-sent events, as /api/ask/stream does")


def _answer_events(events):
    """The server-sent events of an answer stream: `delta` {text} pieces, then `answer` (or `error`)."""

    def generate():
        try:
            for event in events:
                if isinstance(event, Answer):
                    yield sse(event.to_dict(), "answer")
                else:
                    yield sse({"text": event}, "delta")
        except AssistantError as exc:
            yield error_event(exc, "error")

    return event_stream(generate())


def router() -> APIRouter:
    routes = APIRouter(tags=["answers"], responses=ANSWER_RESPONSES)

    @routes.post("/api/ask", response_model=answer_model(), summary="Answer one question, citing paragraphs")
    def ask(body: AskRequest, caller: Caller = Depends(caller_scope), assistant=Depends(current_assistant)):
        answer = assistant.ask(
            body.question, history=history_of(body.history), collections=caller.restrict(body.collections),
            documents=body.documents, id=body.id,
        )
        return JSONResponse(answer.to_dict())

    @routes.post("/api/ask/stream",
                 summary="Answer one question as server-sent events: `delta` {text} pieces, then `answer` (the Answer)")
    def ask_stream(body: AskRequest, caller: Caller = Depends(caller_scope), assistant=Depends(current_assistant)):
        return _answer_events(started(assistant.stream(
            body.question, history=history_of(body.history), collections=caller.restrict(body.collections),
            documents=body.documents, id=body.id,
        )))

    @routes.post("/api/chat", response_model=answer_model(), summary="Answer the last user message of a conversation")
    def chat(body: ChatRequest, caller: Caller = Depends(caller_scope), assistant=Depends(current_assistant)):
        question, history = split_chat(body.messages)
        if body.stream:
            return _answer_events(started(assistant.stream(
                question, history=history, collections=caller.restrict(body.collections), documents=body.documents,
                id=body.id,
            )))
        answer = assistant.ask(
            question, history=history, collections=caller.restrict(body.collections), documents=body.documents, id=body.id
        )
        return JSONResponse(answer.to_dict())

    return routes
