"""The ``fastport`` command: run the server, administer sessions, publish and subscribe.

``serve`` runs the broker. The other commands are gRPC clients of a running server, in
the spirit of ``nats pub``/``nats sub`` and ``mosquitto_pub``/``mosquitto_sub``: each
prints JSON on stdout, and errors as ``fastport: <code>: <message>`` on stderr with
exit status 1 (2 for a usage error).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2, broker_pb2_grpc

from . import __version__, config, logs
from .auth import load_or_create_token, read_token, token_path
from .bench import cli as bench_cli
from .core.errors import BrokerError, EngineError
from .rpc.admin import info_from_pb
from .rpc.errors import ERROR_CODE_KEY
from .views import session_json

DEFAULT_SERVER = "127.0.0.1:50051"
log = logging.getLogger("fastport")


class CliError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    from .app import App

    try:
        settings = config.load_settings(args)
    except config.ConfigError as exc:
        raise CliError("invalid_config", str(exc)) from None
    logs.configure(settings.log_level, settings.log_format)
    if settings.workers > 1 and WORKER_ENV not in os.environ:
        if settings.admin_token is None:  # made once, here: the workers read it, none races another
            load_or_create_token(Path(settings.data_dir))
        return _run_workers(settings.workers)
    import uvloop

    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    with runner:
        return runner.run(_run_server(App(settings), args))


WORKER_ENV = "FASTPORT_WORKER"


def _run_workers(count: int) -> int:
    """``--workers N``: N ``fastport serve`` processes with the same settings on the
    same ports (SO_REUSEPORT), each a node of the jetstream engine. Signals are passed
    on to them; when one exits on its own the others are stopped, and its status is
    this command's."""
    import subprocess

    procs = [
        subprocess.Popen([sys.executable, "-m", "fastport", *sys.argv[1:]], env={**os.environ, WORKER_ENV: str(i)})
        for i in range(count)
    ]

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    pid, status = os.wait()  # the first to end
    code = os.waitstatus_to_exitcode(status)
    forward(signal.SIGTERM, None)
    for proc in procs:
        if proc.pid != pid:
            proc.wait()
    log.info("worker %d ended (status %d): workers stopped", pid, code)
    return code if code >= 0 else 128 - code


def _tune_gc() -> None:
    """Run the cyclic garbage collector rarely, over what was made after start-up.

    Nothing a publish creates forms a cycle (a message is freed by reference counting
    when its last delivery settles), but with the default thresholds the collector
    ran a few times a second under load, each old-generation pass walking every live
    object: a share of the server's CPU and pauses in the latency tail (figures:
    bench/README.md, "What profiling found", 3.). What start-up created is frozen out
    of its reach."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _reload(app: Any, args: argparse.Namespace) -> None:
    """SIGHUP: read the settings again (flags, environment, config file) and hand the
    ones that can change while running to the server."""
    log.info("SIGHUP: reloading")
    try:
        app.reload(config.load_settings(args))
    except config.ConfigError as exc:
        log.error("reload refused, nothing changed: %s", exc)


async def _run_server(app: Any, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _reload, app, args)
    try:
        await app.start()
    except EngineError as exc:
        await app.stop()
        raise CliError("storage_error", str(exc)) from None
    except BrokerError as exc:  # the engine cannot serve (NATS unreachable)
        await app.stop()
        raise CliError(exc.code.value, exc.message) from None
    except OSError as exc:
        await app.stop()
        raise CliError("bind_failed", str(exc)) from None
    _tune_gc()
    await stop.wait()
    log.info("shutting down")
    await app.stop()
    return 0


# ---------------------------------------------------------------------- clients


@dataclass(frozen=True, slots=True)
class Server:
    """The server a client command talks to: ``--server`` and ``--tls-ca`` parsed once.

    ``host:port`` and ``grpc://host:port`` are plain text; ``grpcs://host:port`` is TLS,
    checked against ``--tls-ca`` (a PEM file) or else the system's trusted roots."""

    url: str
    authority: str
    root_certificates: bytes | None
    tls: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Server:
        from fastport_client import FastPortError
        from fastport_client.transport.base import parse_url

        try:
            endpoint = parse_url(args.server)
        except FastPortError as exc:
            raise CliError("invalid_server", f"--server {args.server!r}: {exc.message}") from None
        if endpoint.kind != "grpc":
            raise CliError("invalid_server", f"--server {args.server!r}: use host:port, grpc:// or grpcs://")
        ca = args.tls_ca or os.environ.get("FASTPORT_TLS_CA") or None
        if ca and not endpoint.tls:
            raise CliError("invalid_server", f"a TLS CA ({ca}) is given but --server {args.server!r} is not grpcs://")
        try:
            roots = Path(ca).read_bytes() if ca else None
        except OSError as exc:
            raise CliError("invalid_server", f"TLS CA {ca}: {exc.strerror}") from None
        scheme = "grpcs" if endpoint.tls else "grpc"
        return cls(f"{scheme}://{endpoint.authority}", endpoint.authority, roots, endpoint.tls)

    def channel(self) -> grpc.aio.Channel:
        options = [("grpc.max_receive_message_length", -1), ("grpc.enable_retries", 0)]
        if self.tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=self.root_certificates)
            return grpc.aio.secure_channel(self.authority, credentials, options=options)
        return grpc.aio.insecure_channel(self.authority, options=options)


def _rpc_error(exc: grpc.aio.AioRpcError) -> CliError:
    code = dict(exc.trailing_metadata() or ()).get(ERROR_CODE_KEY)
    if not code:
        code = "unavailable" if exc.code() == grpc.StatusCode.UNAVAILABLE else exc.code().name.lower()
    return CliError(str(code), exc.details() or exc.code().name)


def _token_file(args: argparse.Namespace) -> Path:
    return token_path(Path(args.data_dir or os.environ.get("FASTPORT_DATA_DIR", "data")))


def _admin_token(args: argparse.Namespace) -> str | None:
    """``--admin-token``, else ``FASTPORT_ADMIN_TOKEN``, else the server's token file."""
    return args.admin_token or os.environ.get("FASTPORT_ADMIN_TOKEN") or read_token(_token_file(args).parent)


def _require_admin_token(args: argparse.Namespace) -> str:
    """The admin token, or an error that says everywhere it was looked for."""
    token = _admin_token(args)
    if token is None:
        raise CliError(
            "unauthenticated",
            f"no admin token: none given with --admin-token or FASTPORT_ADMIN_TOKEN, and no token file at"
            f" {_token_file(args).resolve()} (set --data-dir or FASTPORT_DATA_DIR to the server's data directory)",
        )
    return token


def _password(args: argparse.Namespace) -> str | None:
    """``--password``, else ``--password-file`` (``-``: the first line of stdin), else
    ``FASTPORT_PASSWORD``: a password need not appear in the process list."""
    if args.password is not None:
        return str(args.password)
    if args.password_file is not None:
        try:
            text = sys.stdin.readline() if args.password_file == "-" else Path(args.password_file).read_text()
        except OSError as exc:
            raise CliError("invalid_password_file", f"--password-file {args.password_file}: {exc.strerror}") from None
        return text.rstrip("\r\n")
    return os.environ.get("FASTPORT_PASSWORD") or None


def _required_password(args: argparse.Namespace) -> str:
    password = _password(args)
    if password is None:
        raise CliError("password_required", "give the password with --password, --password-file or FASTPORT_PASSWORD")
    return password


def _print(obj: Any) -> None:
    """One JSON line in one write: ``print`` writes the text and its newline apart when
    Python runs unbuffered, so lines of ``sub`` and ``pub`` sharing a pipe could merge.
    A single write of less than PIPE_BUF bytes to a pipe is atomic."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _info(msg: admin_pb2.SessionInfo) -> dict[str, Any]:
    return session_json(info_from_pb(msg))


async def _session(args: argparse.Namespace) -> int:
    creds = admin_pb2.SessionCredentials(name=getattr(args, "name", ""))
    if getattr(args, "secret_key", None):
        creds.password = _required_password(args)
        creds.secret_key = args.secret_key
        token = _admin_token(args)
    else:
        token = _require_admin_token(args)
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    async with Server.from_args(args).channel() as channel:
        stub = admin_pb2_grpc.AdminStub(channel)
        try:
            if args.action == "create":
                reply = await stub.CreateSession(
                    admin_pb2.CreateSessionRequest(
                        name=args.name,
                        password=_required_password(args),
                        retry_interval_ms=args.retry_interval,
                        max_retry_limit=args.max_retries,
                        message_expiry_ms=args.message_expiry,
                        session_expiry_ms=args.session_expiry,
                        limits=admin_pb2.Limits(
                            max_payload_bytes=args.max_payload,
                            max_connections=args.max_connections,
                            max_subscriptions=args.max_subscriptions,
                            max_pending_messages=args.max_pending,
                            max_pending_bytes=args.max_pending_bytes,
                            max_in_flight=args.max_in_flight,
                        ),
                        max_remembered_ids=args.max_remembered_ids,
                        dead_letter_topic=args.dead_letter_topic,
                    ),
                    metadata=metadata,
                )
                _print({"session": _info(reply.session), "secretKey": reply.secret_key})
            elif args.action == "list":
                reply = await stub.ListSessions(admin_pb2.ListSessionsRequest(), metadata=metadata)
                _print([_info(s) for s in reply.sessions])
            elif args.action == "get":
                _print(_info(await stub.GetSession(admin_pb2.GetSessionRequest(name=args.name), metadata=metadata)))
            elif args.action == "drop":
                await stub.DropSession(creds, metadata=metadata)
                _print({"dropped": args.name})
            elif args.action == "suspend":
                _print(_info(await stub.SuspendSession(creds, metadata=metadata)))
            else:
                _print(_info(await stub.ResumeSession(creds, metadata=metadata)))
        except grpc.aio.AioRpcError as exc:
            raise _rpc_error(exc) from None
    return 0


def _check_error(item: Any) -> None:
    if item.HasField("error"):
        raise CliError(item.error.code, item.error.message)


def _fastport_client(args: argparse.Namespace, **options: Any) -> Any:
    """An end-to-end encrypting client (the fastport-client package) for --key."""
    from fastport_client import FastPort, FastPortError

    try:
        server = Server.from_args(args)
        return FastPort(
            server.url,
            args.session,
            _required_password(args),
            args.key,
            args.cipher,
            root_certificates=server.root_certificates,
            **options,
        )
    except FastPortError as exc:
        raise CliError(exc.code, exc.message) from None


async def _pub_encrypted(args: argparse.Namespace) -> int:
    from fastport_client import FastPortError

    try:
        async with _fastport_client(args, emit_timeout=args.timeout) as fp:
            receipt = await fp.emit(args.topic, args.message)
    except FastPortError as exc:
        refused = exc.__cause__  # the temporary refusal retried until the timeout
        why = f" (last refused: {refused.code}: {refused.message})" if isinstance(refused, FastPortError) else ""
        raise CliError(exc.code, exc.message + why) from None
    _print({"messageId": receipt.message_id, "deliveredTo": receipt.delivered_to, "duplicate": receipt.duplicate})
    return 0


async def _sub_encrypted(args: argparse.Namespace) -> int:
    """Decrypt and print; a message that fails its hash or decryption is reported on
    stderr and not ACKed (the client package's rule), never printed as good."""
    from fastport_client import FastPortError, HandlerError

    done = asyncio.Event()
    received = 0

    def show(message: Any) -> None:
        nonlocal received
        if done.is_set():
            raise RuntimeError("enough messages")  # so it is not ACKed: the broker keeps it
        _print(
            {
                "topic": message.topic,
                "messageId": message.message_id,
                "data": message.payload.decode(errors="replace"),
                "timestamp": message.timestamp_ms,
                "retry": message.retry,
            }
        )
        received += 1
        if args.count and received >= args.count:
            done.set()

    def report(error: FastPortError, *_: Any) -> None:
        if not isinstance(error, HandlerError):
            print(f"fastport: {error.code}: {error.message}", file=sys.stderr, flush=True)

    try:
        async with _fastport_client(args, on_error=report) as fp:
            for topic in args.topic:
                await fp.subscribe(topic, show)
            _ready(args)
            await done.wait()
    except FastPortError as exc:
        raise CliError(exc.code, exc.message) from None
    return 0


async def _pub(args: argparse.Namespace) -> int:
    if args.key:
        return await _pub_encrypted(args)
    async with Server.from_args(args).channel() as channel:
        stub = broker_pb2_grpc.BrokerStub(channel)
        publish = broker_pb2.Publish(
            request_id=1,
            topic=args.topic,
            payload=args.message.encode(),
            message_id=args.message_id or "",
        )
        try:
            result = await stub.Publish(
                broker_pb2.PublishRequest(session=args.session, password=_required_password(args), publish=publish),
                timeout=args.timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _rpc_error(exc) from None
        _print({"messageId": result.message_id, "deliveredTo": result.delivered_to, "duplicate": result.duplicate})
    return 0


def _message_json(m: broker_pb2.Message) -> dict[str, Any]:
    try:
        data: str = m.payload.decode()
        encoding = "utf-8"
    except UnicodeDecodeError:
        data = base64.b64encode(m.payload).decode()
        encoding = "base64"
    return {
        "topic": m.topic,
        "messageId": m.message_id,
        "data": data,
        "encoding": encoding,
        "hash": m.hash,
        "timestamp": m.timestamp_ms,
        "retry": m.retry,
    }


def _ready(args: argparse.Namespace) -> None:
    """Say on stderr that the subscriptions are in place: what is published from now on
    reaches this subscriber (scripts wait for this line before publishing)."""
    topics = " ".join(args.topic)
    print(f"Subscribed to {topics} in session {args.session} on {args.server}", file=sys.stderr, flush=True)


async def _sub(args: argparse.Namespace) -> int:
    if args.key:
        return await _sub_encrypted(args)
    server = Server.from_args(args)
    acks: asyncio.Queue[broker_pb2.ClientFrame | None] = asyncio.Queue()
    await acks.put(
        broker_pb2.ClientFrame(
            init=broker_pb2.Init(request_id=1, session=args.session, password=_required_password(args)),
            subscribe=[broker_pb2.Subscribe(request_id=2, topic=t) for t in args.topic],
        )
    )

    async def frames() -> AsyncIterator[broker_pb2.ClientFrame]:
        while (frame := await acks.get()) is not None:
            yield frame

    seen: set[str] = set()
    received = subscribed = 0
    async with server.channel() as channel:
        call = broker_pb2_grpc.BrokerStub(channel).Connect(frames())
        try:
            async for frame in call:
                if frame.HasField("init_result"):
                    _check_error(frame.init_result)
                for result in frame.subscribe_results:
                    _check_error(result)
                    subscribed += 1
                    if subscribed == len(args.topic):
                        _ready(args)
                for err in frame.errors:
                    raise CliError(err.code, err.message)
                if frame.messages:
                    await acks.put(
                        broker_pb2.ClientFrame(
                            ack=[broker_pb2.Ack(message_id=m.message_id, topic=m.topic) for m in frame.messages]
                        )
                    )
                for m in frame.messages:
                    if m.message_id in seen:
                        continue  # a re-send of one already printed
                    seen.add(m.message_id)
                    _print(_message_json(m))
                    received += 1
                    if args.count and received >= args.count:
                        await acks.put(None)
                        return 0
                if frame.HasField("closing"):
                    raise CliError(frame.closing.code, frame.closing.message)
        except grpc.aio.AioRpcError as exc:
            raise _rpc_error(exc) from None
        finally:
            call.cancel()
    return 0


def _keygen(args: argparse.Namespace) -> int:
    print(base64.b64encode(secrets.token_bytes(32)).decode())
    return 0


# ---------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastport", description="fastport: a multi-tenant pub/sub broker")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    count = config.argument_type(config.non_negative)
    seconds = config.argument_type(config.positive_seconds)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the broker", description="Run the broker in the foreground.")
    config.add_arguments(serve)
    serve.set_defaults(func=_serve)

    def client_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--server",
            default=os.environ.get("FASTPORT_SERVER", DEFAULT_SERVER),
            metavar="URL",
            help="the server's gRPC address: host:port or grpc://host:port, grpcs://host:port for TLS"
            f" [env: FASTPORT_SERVER; default: {DEFAULT_SERVER}]",
        )
        p.add_argument(
            "--tls-ca",
            metavar="PEM",
            help="CA certificate(s) to check a grpcs:// server against [env: FASTPORT_TLS_CA; default: the system's]",
        )

    def password_options(p: argparse.ArgumentParser, text: str) -> None:
        p.add_argument("--password", help=f"{text} [env: FASTPORT_PASSWORD]")
        p.add_argument("--password-file", metavar="FILE", help="read the password from FILE (- for stdin) instead")

    def session_options(p: argparse.ArgumentParser) -> None:
        client_options(p)
        p.add_argument("--session", required=True, help="the session to publish or subscribe in")
        password_options(p, "the session's password (required)")

    session = commands.add_parser("session", help="create, list, inspect, drop, suspend, resume sessions")
    actions = session.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("create", "create a session; prints its secret key, shown only once"),
        ("list", "list sessions"),
        ("get", "show one session"),
        ("drop", "drop a session, closing its connections"),
        ("suspend", "refuse publishes and subscribes until resumed"),
        ("resume", "resume a suspended session"),
    ):
        p = actions.add_parser(name, help=text, description=text)
        client_options(p)
        p.add_argument("--admin-token", help="admin token [env: FASTPORT_ADMIN_TOKEN; else DATA_DIR/admin-token]")
        p.add_argument("--data-dir", help="data directory holding admin-token [env: FASTPORT_DATA_DIR; default: data]")
        if name != "list":
            p.add_argument("name", help="session name")
        if name == "create":
            password_options(p, "the session's password (required)")
            for flag, metavar, text in (
                ("--retry-interval", "MS", "re-send period (default 5000)"),
                ("--max-retries", "N", "re-sends before giving up (default 100)"),
                ("--message-expiry", "MS", "message lifetime (default never)"),
                ("--session-expiry", "MS", "session lifetime (default never)"),
                ("--max-payload", "BYTES", "payload limit below the server's (default: the server's)"),
                ("--max-connections", "N", "connection limit (default unlimited)"),
                ("--max-subscriptions", "N", "subscription limit (default unlimited)"),
                (
                    "--max-pending",
                    "N",
                    "unsettled messages the session holds: publishers slowed past half, refused (overloaded) at it"
                    " (default 250000)",
                ),
                (
                    "--max-pending-bytes",
                    "BYTES",
                    "payload bytes of the unsettled messages, as --max-pending (default 134217728, 128 MiB)",
                ),
                (
                    "--max-in-flight",
                    "N",
                    "unacknowledged deliveries outstanding to one subscriber; the rest wait in order (default 1000)",
                ),
                ("--max-remembered-ids", "N", "settled ids kept for de-duplication, oldest forgotten first (default 1000000)"),
            ):
                p.add_argument(flag, type=count, default=0, metavar=metavar, help=text)
            p.add_argument(
                "--dead-letter-topic",
                default="",
                metavar="TOPIC",
                help="publish every given-up delivery to this topic of the session (default: none)",
            )
        if name in ("drop", "suspend", "resume"):
            password_options(p, "session password (with --secret-key instead of the admin token)")
            p.add_argument("--secret-key", help="session secret key (with the password instead of the admin token)")
        p.set_defaults(func=lambda a: asyncio.run(_session(a)))

    pub = commands.add_parser("pub", help="publish one message", description="Publish one message and print the result.")
    session_options(pub)
    pub.add_argument("--message-id", help="message id (default: made by the server; ignored with --key)")
    pub.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="S",
        help="give up after S seconds without the broker's confirmation; with --key, temporary refusals"
        " (overloaded, shutting_down ...) are retried until then (default 10)",
    )
    pub.add_argument("topic")
    pub.add_argument("message")
    pub.set_defaults(func=lambda a: asyncio.run(_pub(a)))

    sub = commands.add_parser(
        "sub", help="subscribe and print messages", description="Subscribe, ACK and print one JSON line per message."
    )
    session_options(sub)
    sub.add_argument("--count", type=count, default=0, metavar="N", help="exit after N messages (default: run until stopped)")
    sub.add_argument("topic", nargs="+", help="topics or patterns (MQTT wildcards + and #)")
    sub.set_defaults(func=lambda a: asyncio.run(_sub(a)))

    bench = commands.add_parser(
        "bench",
        help="measure a server: throughput, latency, CPU and memory",
        description="Load-test a fastport server on either door (see bench/README.md).",
    )
    bench_cli.add_arguments(bench)
    bench.set_defaults(func=bench_cli.main)

    for p in (pub, sub):
        p.add_argument("--key", help="base64 32-byte end-to-end key (see keygen): encrypt/decrypt in this client")
        p.add_argument(
            "--cipher",
            choices=("aes-gcm", "legacy-cbc"),
            default="aes-gcm",
            help="end-to-end format with --key (default aes-gcm; legacy-cbc for deployed clients)",
        )

    keygen = commands.add_parser("keygen", help="print a new base64 32-byte end-to-end encryption key")
    keygen.set_defaults(func=_keygen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"fastport: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
