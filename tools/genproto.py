"""Generate fastport's Python protobuf/gRPC code from protos/ (``make proto``).

One function serves both ``make proto`` and the test that fails when the checked-in
code is stale, so the two can never disagree about how the code is produced.

The code lives in its own small distribution, ``fastport-proto`` (``protos/python``),
which both the server and the client package depend on: the client must not depend on
the server, and two copies of the same messages cannot be registered in one process's
protobuf descriptor pool (tests run server and client side by side).

The include mapping ``fastport_proto=protos/fastport`` makes protoc write
``fastport_proto/v1/*_pb2*.py`` with imports of ``fastport_proto.v1``, so the
generated modules import each other as a proper package without any rewriting.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos" / "fastport"
PACKAGE = "fastport_proto"
OUT_DIR = ROOT / "protos" / "python"


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Write the generated modules under ``out_dir`` and return their paths."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PACKAGE}={PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
    ]
    args += [f"{PACKAGE}/{p.relative_to(PROTO_ROOT).as_posix()}" for p in proto_files()]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed: " + " ".join(args))
    generated = sorted((out_dir / PACKAGE).rglob("*_pb2*.py*"))
    for pkg in {p.parent for p in generated} | {out_dir / PACKAGE}:
        (pkg / "__init__.py").touch()
    return generated


if __name__ == "__main__":
    for path in generate(OUT_DIR):
        print(path.relative_to(ROOT))
    sys.exit(0)
