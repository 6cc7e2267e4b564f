"""Which error codes are temporary has one source, the broker's ``TEMPORARY``. gRPC
carries it with every error; the legacy JSON protocol cannot, so the Python client keeps
a copy for its ``ws://`` door and REST calls, which must be the broker's own."""

from __future__ import annotations

from fastport_client.errors import TEMPORARY_CODES

from fastport.core.errors import TEMPORARY


def test_the_clients_copy_of_the_temporary_codes_is_the_brokers() -> None:
    assert TEMPORARY_CODES == {code.value for code in TEMPORARY}

