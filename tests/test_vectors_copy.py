"""tests/data/vectors.json is a copy of the shared protocol's crypto vectors, kept in the
repository so the tests run wherever the repository is cloned; it must stay identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COPY = ROOT / "tests" / "data" / "vectors.json"
SHARED = ROOT.parent / "shared" / "protocol" / "vectors.json"


def test_copy_matches_shared_vectors() -> None:
    if not SHARED.exists():
        pytest.skip("no ../shared beside this checkout to compare with")
    assert json.loads(COPY.read_text()) == json.loads(SHARED.read_text())
