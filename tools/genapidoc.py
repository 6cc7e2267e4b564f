"""Write docs/grpc-api.md, the gRPC API reference, from the comments in protos/ (``make docs``).

protoc (from grpcio-tools, as ``make proto`` uses) compiles the contract into a
descriptor set with its source comments; this walks it and writes one Markdown page:
each file's comment, its services and their methods, its messages with their fields,
its enums with their values. The .proto comments are the one place the API is
described; a test fails when the page is stale.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from google.protobuf import descriptor_pb2 as d

from tools.genproto import PACKAGE, PROTO_ROOT, ROOT, proto_files

OUT = ROOT / "docs" / "grpc-api.md"

# Field numbers in FileDescriptorProto / DescriptorProto / ServiceDescriptorProto /
# EnumDescriptorProto, as SourceCodeInfo paths name them.
_PACKAGE, _MESSAGE, _ENUM, _SERVICE = 2, 4, 5, 6
_FIELD, _NESTED, _NESTED_ENUM = 2, 3, 4
_METHOD = 2
_VALUE = 2

_TYPES = {
    getattr(d.FieldDescriptorProto, name): name.removeprefix("TYPE_").lower()
    for name in d.FieldDescriptorProto.Type.keys()
}


def descriptors() -> d.FileDescriptorSet:
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.pb"
        args = [
            "grpc_tools.protoc",
            f"-I{PACKAGE}={PROTO_ROOT}",
            f"-I{well_known}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
        ]
        args += [f"{PACKAGE}/{p.relative_to(PROTO_ROOT).as_posix()}" for p in proto_files()]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed: " + " ".join(args))
        return d.FileDescriptorSet.FromString(out.read_bytes())


def _comments(file: d.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    found = {}
    for loc in file.source_code_info.location:
        text = loc.leading_comments or loc.trailing_comments
        if text.strip():
            paragraphs = [" ".join(p.split()) for p in "\n".join(x.strip() for x in text.splitlines()).split("\n\n")]
            found[tuple(loc.path)] = "\n\n".join(p for p in paragraphs if p)
    return found


def _cell(text: str) -> str:
    """A comment in a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _type(field: d.FieldDescriptorProto) -> str:
    if field.type_name:
        name = field.type_name.rsplit(".", 1)[-1]
        shown = f"[`{name}`](#{name.lower()})"
    else:
        shown = f"`{_TYPES[field.type]}`"
    return ("repeated " if field.label == d.FieldDescriptorProto.LABEL_REPEATED else "") + shown


def _enum(enum: d.EnumDescriptorProto, path: tuple[int, ...], notes: dict[tuple[int, ...], str]) -> Iterator[str]:
    yield f"### {enum.name}\n"
    if path in notes:
        yield notes[path] + "\n"
    yield "| value | number | description |"
    yield "|---|---|---|"
    for j, value in enumerate(enum.value):
        yield f"| `{value.name}` | {value.number} | {_cell(notes.get((*path, _VALUE, j), ''))} |"
    yield ""


def _message(msg: d.DescriptorProto, path: tuple[int, ...], notes: dict[tuple[int, ...], str]) -> Iterator[str]:
    yield f"### {msg.name}\n"
    if path in notes:
        yield notes[path] + "\n"
    if msg.field:
        yield "| field | type | number | description |"
        yield "|---|---|---|---|"
        for j, field in enumerate(msg.field):
            oneof = f" (one of `{msg.oneof_decl[field.oneof_index].name}`)" if field.HasField("oneof_index") else ""
            note = notes.get((*path, _FIELD, j), "")
            yield f"| `{field.name}` | {_type(field)} | {field.number} | {_cell(note)}{oneof} |"
        yield ""
    for k, nested in enumerate(msg.nested_type):
        if not nested.options.map_entry:
            yield from _message(nested, (*path, _NESTED, k), notes)
    for k, enum in enumerate(msg.enum_type):
        yield from _enum(enum, (*path, _NESTED_ENUM, k), notes)


def render(files: Sequence[d.FileDescriptorProto]) -> str:
    lines = [
        "# gRPC API reference",
        "",
        "Generated from the comments in `protos/fastport/v1/` by `make docs` (tools/genapidoc.py);",
        "edit the .proto files, not this page.",
        "",
    ]
    for file in files:
        notes = _comments(file)
        lines += [f"## {file.name.removeprefix(PACKAGE + '/')} (package `{file.package}`)", ""]
        if (_PACKAGE,) in notes:
            lines += [notes[(_PACKAGE,)], ""]
        for i, service in enumerate(file.service):
            lines += [f"### service {service.name}", ""]
            if (_SERVICE, i) in notes:
                lines += [notes[(_SERVICE, i)], ""]
            lines += ["| method | request | response | description |", "|---|---|---|---|"]
            for j, m in enumerate(service.method):
                request = ("stream " if m.client_streaming else "") + m.input_type.rsplit(".", 1)[-1]
                response = ("stream " if m.server_streaming else "") + m.output_type.rsplit(".", 1)[-1]
                lines.append(f"| `{m.name}` | {request} | {response} | {_cell(notes.get((_SERVICE, i, _METHOD, j), ''))} |")
            lines.append("")
        for i, msg in enumerate(file.message_type):
            lines += _message(msg, (_MESSAGE, i), notes)
        for i, enum in enumerate(file.enum_type):
            lines += _enum(enum, (_ENUM, i), notes)
    return "\n".join(lines).rstrip() + "\n"


def generate() -> str:
    return render([f for f in descriptors().file if f.name.startswith(PACKAGE + "/")])


if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(generate())
    print(OUT.relative_to(ROOT))
    sys.exit(0)
