"""``results.md`` is a rendering of ``results.json``: ``--render`` writes it anew from
the committed file (no run), naming when and on which commit it was measured."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastport.bench import matrix

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results.json"


def test_render_writes_results_md_from_results_json(tmp_path: Path) -> None:
    shutil.copy(RESULTS, tmp_path / "results.json")
    assert matrix.main(["--out", str(tmp_path), "--render"]) == 0
    written = json.loads(RESULTS.read_text())["written"]
    text = (tmp_path / "results.md").read_text()
    assert f"on {written['date']}, commit {written['commit']}" in text
    issue16 = text[text.index("## Targets (issue 16)") : text.index("## picows beside aiohttp")]
    for row in ("ws-sqlite, (d) 2,000 msg/s: p99 latency, ms", "grpc, (a): sqlite acked/s ÷ memory acked/s"):
        assert f"| {row} | " in issue16
    assert '"Issue 16: where things stand"' in issue16
