"""The errors the assistant raises on purpose, each with a message a user can act on.

The CLI maps `BadQuestion` to exit code 2 and the HTTP API maps it to 422;
`IndexNotReady` maps to 503.
"""


class AssistantError(Exception):
    """Base class: an expected failure with a clear message."""


class BadQuestion(AssistantError, ValueError):
    """The question is empty, too long, or otherwise unusable."""


class IndexNotReady(AssistantError):
    """There is no index yet, or it cannot be opened."""


class IndexModelMismatch(IndexNotReady):
    """The index was built with a different embedding model; it must be re-ingested."""
