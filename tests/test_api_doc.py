"""docs/grpc-api.md must match the comments in protos/ (run `make docs`)."""

from __future__ import annotations

from tools.genapidoc import OUT, generate


def test_grpc_api_reference_is_fresh() -> None:
    fresh = generate()
    assert "### service Admin" in fresh and "### service Broker" in fresh
    assert "| `CreateSession` | CreateSessionRequest | CreateSessionResponse | Creates a session." in fresh
    assert OUT.read_text() == fresh, "docs/grpc-api.md is stale, run `make docs`"
