"""Exit 0 when the local fastport answers ``GET /health`` with 200, else 1.

The container's HEALTHCHECK; also usable from any supervisor. The port comes from
FASTPORT_HTTP_PORT (or PORT), default 3000; FASTPORT_HEALTH_URL overrides the whole URL
(https:// for a server with TLS on the HTTP port).
"""

import os
import sys
import urllib.request

port = os.environ.get("FASTPORT_HTTP_PORT") or os.environ.get("PORT") or "3000"
url = os.environ.get("FASTPORT_HEALTH_URL") or f"http://127.0.0.1:{port}/health"
try:
    with urllib.request.urlopen(url, timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"fastport health: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
