"""Write the stream file's JSON Schema (schema/stream.schema.json) and the key tables of docs/model.md
from the one table of keys (vssim/model/keys.py); `--check` only says whether they are current.

    python tools/stream_schema.py            # `make schema`
    python tools/stream_schema.py --check    # exit 1 when a shipped file differs
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from vssim.model.schema import fill, json_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "stream.schema.json"
DOCS = ROOT / "docs" / "model.md"


def rendered() -> dict[Path, str]:
    """What each generated file must hold."""
    return {SCHEMA: json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", DOCS: fill(DOCS.read_text())}


def main(argv: list[str]) -> int:
    stale = [path for path, text in rendered().items() if not path.is_file() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is not current: run `make schema`")
        return 1 if stale else 0
    for path, text in rendered().items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
