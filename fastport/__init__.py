"""fastport: a multi-tenant publish/subscribe broker."""

import os
from importlib.metadata import version

# The version is the installed package's (pyproject.toml is the one place it is written).
__version__ = version("fastport")

# The gRPC C library writes its own log lines straight to stderr, in its own format,
# where they would interleave with fastport's (JSON) log lines: it stays quiet unless an
# operator asks for them (GRPC_VERBOSITY=ERROR, see docs/operations.md). Set before
# anything imports grpc.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
