"""The OpenAPI models of the Answer JSON, generated from the dataclasses of assistant/answer.py, so
the published schema cannot drift from `Answer.to_dict()`: every dataclass field is a property
(required unless `Answer.to_dict` leaves it out when empty: `OPTIONAL_KEYS`), `status` is added
(a derived property), nested Citation and NearPassage become models of their own, and no other
property is allowed (`additionalProperties: false`)."""

from __future__ import annotations

import dataclasses
import typing
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from assistant.answer import OPTIONAL_KEYS, STATUS_DESCRIPTION, STATUSES, Answer, Citation, NearPassage


def _model(cls: type, name: str, nested: dict[type, type[BaseModel]], extra_fields: dict | None = None) -> type[BaseModel]:
    """A pydantic model `name` with the dataclass's fields (their `description` metadata included)."""
    hints = typing.get_type_hints(cls)
    fields: dict = {}
    for f in dataclasses.fields(cls):
        annotation = hints[f.name]
        if typing.get_origin(annotation) is list and typing.get_args(annotation)[0] in nested:
            annotation = list[nested[typing.get_args(annotation)[0]]]
        required = cls is not Answer or f.name not in OPTIONAL_KEYS
        default = ... if required else None
        fields[f.name] = (annotation, Field(default, description=f.metadata.get("description")))
    fields.update(extra_fields or {})
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


@lru_cache(maxsize=1)
def answer_model() -> type[BaseModel]:
    """The model of `Answer.to_dict()` (and of its citations and nearest passages)."""
    # The component names published before the models were generated, kept for clients' generated code.
    nested = {Citation: _model(Citation, "CitationOut", {}), NearPassage: _model(NearPassage, "NearOut", {})}
    status = (Literal[STATUSES], Field(..., description=STATUS_DESCRIPTION))
    return _model(Answer, "AnswerOut", nested, {"status": status})
