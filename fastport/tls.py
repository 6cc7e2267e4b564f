"""The server's TLS certificate, one for both ports, re-read on demand (SIGHUP).

aiohttp's ``ssl.SSLContext`` takes a new chain in place: connections made after
:meth:`ServerCertificate.reload` get it. gRPC asks a fetcher for its certificate on
each new handshake (``dynamic_ssl_server_credentials``); the fetcher answers with the
new pair once after a reload. Open connections keep the certificate they started with.
A reload that cannot read or parse the files changes nothing and says why.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc


class ServerCertificate:
    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        self._pair = self._read()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self._changed = False

    def _read(self) -> tuple[bytes, bytes]:
        return self.key.read_bytes(), self.cert.read_bytes()

    def grpc_credentials(self) -> grpc.ServerCredentials:
        initial = grpc.ssl_server_certificate_configuration([self._pair])
        # grpc documents the fetcher's None as "no change"; types-grpcio's stub forgets it.
        return grpc.dynamic_ssl_server_credentials(initial, self._fetch)  # type: ignore[arg-type]

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each handshake: the new pair once after a reload."""
        if not self._changed:
            return None
        self._changed = False
        return grpc.ssl_server_certificate_configuration([self._pair])

    def reload(self) -> None:
        """Re-read both files; raises ``OSError``/``ssl.SSLError`` and keeps the old ones
        when they cannot be used."""
        pair = self._read()
        check = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        check.load_cert_chain(self.cert, self.key)
        self.context.load_cert_chain(self.cert, self.key)
        self._pair = pair
        self._changed = True
