"""The checked-in generated protobuf code must match protos/ (run `make proto`)."""

from __future__ import annotations

from pathlib import Path

from tools.genproto import OUT_DIR, PACKAGE, generate


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in generate(tmp_path)}
    assert fresh, "nothing generated"
    stale = [
        str(rel)
        for rel, content in fresh.items()
        if not (OUT_DIR / rel).exists() or (OUT_DIR / rel).read_bytes() != content
    ]
    checked_in = {p.relative_to(OUT_DIR) for p in (OUT_DIR / PACKAGE).rglob("*_pb2*.py*")}
    extra = sorted(str(p) for p in checked_in - fresh.keys())
    assert not stale and not extra, f"generated code is stale, run `make proto`: {stale + extra}"
