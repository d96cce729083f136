"""Ingest: documents in `sources/` (or any paths) -> cleaned paragraphs with stable ids -> the index.

Flow: loaders (file -> text blocks) -> cleaning (drop page furniture, find reader comments)
-> segmentation (paragraphs and sentences) -> pipeline (embed, write the store incrementally).
"""

from assistant.offline import switch_off_telemetry

switch_off_telemetry()
