"""The cited-answer assistant: reads the index that `ingest` writes and answers from it.

Importing this package is cheap: heavy libraries (torch, sentence-transformers, chromadb,
gradio) load only in the commands that need them. It also switches off every telemetry and
hub look-up of the stack before any of it is imported, so the assistant runs offline.
"""

from assistant.offline import switch_off_telemetry

switch_off_telemetry()

__all__ = ["Assistant", "Answer", "Citation", "Config"]


def __getattr__(name: str):
    # Lazy re-exports keep `import assistant` (and `assistant --help`) instant.
    if name == "Assistant":
        from assistant.core import Assistant

        return Assistant
    if name in ("Answer", "Citation"):
        from assistant import answer

        return getattr(answer, name)
    if name == "Config":
        from assistant.config import Config

        return Config
    raise AttributeError(name)
