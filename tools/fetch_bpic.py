"""Fetch the BPIC 2012 and BPIC 2013 (incidents) logs into data/bpic/ (gitignored).

Both logs ship in the source distribution of pm4py 2.2.32 on PyPI. 4TU's terms forbid
committing them to this repository, so this script downloads the sdist (found in PyPI's
simple index (PEP 691 JSON), its sha256 checked against the one PyPI publishes), extracts the two files and leaves
nothing else behind. Not `pip download`: for an sdist pip prepares its metadata, which runs
pm4py's setup.py (and fails without `wheel`); a download need not run anyone's code.

    python tools/fetch_bpic.py [--dest data/bpic]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
import tempfile
import urllib.request
from pathlib import Path

INDEX = "https://pypi.org/simple/pm4py/"
FILENAME = "pm4py-2.2.32.tar.gz"
MEMBERS = {
    "tests/input_data/bpic2012.xes.gz": "bpic2012.xes.gz",
    "tests/compressed_input_data/07_bpic2013_incidents.xes.gz": "bpic2013_incidents.xes.gz",
}


def fetch(dest: Path) -> list[Path]:
    """Download the sdist to a temporary folder and extract MEMBERS into `dest`; the files written."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {name: dest / out for name, out in MEMBERS.items()}
    if all(p.exists() for p in wanted.values()):
        return list(wanted.values())
    with tempfile.TemporaryDirectory() as tmp:
        request = urllib.request.Request(INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            index = json.load(r)
        sdist = next((f for f in index["files"] if f["filename"] == FILENAME), None)
        if sdist is None:
            raise SystemExit(f"{INDEX} does not list {FILENAME}")
        archive = Path(tmp) / FILENAME
        with urllib.request.urlopen(sdist["url"], timeout=300) as r:
            archive.write_bytes(r.read())
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != sdist["hashes"]["sha256"]:
            raise SystemExit(f"{FILENAME}: sha256 {digest}, PyPI publishes {sdist['hashes']['sha256']}")
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                # the sdist's members are "pm4py-2.2.32/tests/..."; match the tail, never trust the path
                tail = member.name.split("/", 1)[-1]
                if tail in wanted and member.isfile():
                    src = tar.extractfile(member)
                    wanted[tail].write_bytes(src.read())
    missing = [str(n) for n, p in wanted.items() if not p.exists()]
    if missing:
        raise SystemExit(f"not in the sdist: {', '.join(missing)}")
    return list(wanted.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "bpic")
    args = parser.parse_args(argv)
    for path in fetch(args.dest):
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
