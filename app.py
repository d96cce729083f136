"""The chat entry point: `python app.py`.

Brings the index up to date with `sources/` (ingesting it on the first start, with progress; later
starts only re-embed what changed), then serves the chat at http://127.0.0.1:7860 with the HTTP
API on the same server (`/docs`). Settings come from ASSISTANT_* variables, as for
`assistant serve` (ASSISTANT_DATA_DIR, ASSISTANT_PORT, ASSISTANT_API_TOKENS, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.offline import switch_off_telemetry

switch_off_telemetry()

HERE = Path(__file__).resolve().parent


def main() -> int:
    from assistant.server import run

    args = argparse.Namespace(data_dir=None, host=None, port=None, root_path=None, insecure=False, no_ingest=False)
    try:
        return run(args, sources=HERE / "sources")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
