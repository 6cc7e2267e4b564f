"""Server settings: flags win over environment, environment over the config file,
the file over the embedded defaults.

Each setting is declared once in ``OPTIONS`` (flag, environment names, parser, help);
the ``serve`` command's flags and ``--help`` are generated from that table, so they
cannot drift apart. A value that does not parse is an error at start-up, never a
silent default.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .core.engine import DEFAULT_DEDUP_WINDOW_MS, DEFAULT_SLOW_CONSUMER_TIMEOUT_MS
from .urls import hide_secret, hide_secrets

MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting that does not parse; the message names the setting and its source."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    grpc_port: int = 50051
    http_port: int = 3000
    data_dir: Path = Path("data")
    store: str = "sqlite"
    sqlite_path: Path | None = None
    fsync: str = "normal"
    admin_token: str | None = None
    admin_user: str | None = None
    admin_pass: str | None = None
    open_admin: bool = False
    max_payload: int = 10 * MIB
    dedup_window_ms: int = DEFAULT_DEDUP_WINDOW_MS
    slow_consumer_timeout: int = DEFAULT_SLOW_CONSUMER_TIMEOUT_MS // 1000
    api_rate_limit: int = 100
    cors_origins: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "info"
    log_format: str = "text"
    metrics_sessions: int = 0
    engine: str = "embedded"
    nats_url: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    nats_creds: Path | None = None
    nats_tls_ca: Path | None = None
    nats_replicas: int = 1
    workers: int = 1


def _integer(text: str, wanted: str) -> int:
    """A whole number; anything else is refused with what was wanted (never Python's
    ``invalid literal for int()``)."""
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"is not a whole number: {wanted}") from None


def _port(text: str) -> int:
    wanted = "a port is 0 (pick a free one) to 65535"
    value = _integer(text, wanted)
    if not 0 <= value <= 65535:
        raise ValueError(wanted)
    return value


def _positive(text: str) -> int:
    value = _integer(text, "a positive integer")
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def non_negative(text: str) -> int:
    value = _integer(text, "0 or a positive integer")
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


def positive_seconds(text: str) -> float:
    """A duration in seconds, fractions allowed (``0.5``), above zero and finite."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ValueError("must be a number of seconds above 0")
    return value


def argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` as an argparse ``type``: its message becomes the usage error."""

    def argument(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None

    return argument


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed set of words; ``--help`` lists them."""

    choices: tuple[str, ...]

    def __call__(self, text: str) -> str:
        value = text.strip().lower()
        if value not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}")
        return value


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


def nats_urls(text: str) -> tuple[str, ...]:
    """``nats://h1:4222,nats://h2:4222``, each URL checked (scheme ``nats`` or ``tls``,
    a host, a numeric port if any), so that a typo stops start-up instead of being
    retried for ever. Errors show a URL without its password or token."""
    urls = _origins(text)
    if not urls:
        raise ValueError("names no NATS server (nats://host:4222, comma-separated)")
    for url in urls:
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 (a port that is not a number raises ValueError)
        except ValueError:
            raise ValueError(f"has a bad port in {hide_secret(url)!r}") from None
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ValueError(f"is not a NATS URL: {hide_secret(url)!r} (want nats://host:port or tls://host:port)")
    return urls


def _replicas(text: str) -> int:
    value = _integer(text, "1 or 3")
    if value not in (1, 3):
        raise ValueError("must be 1 or 3 (replicas of the streams and buckets fastport creates)")
    return value


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    env: tuple[str, ...]
    parse: Callable[[str], Any]
    help: str
    is_flag: bool = False
    default_text: str | None = None  # --help's default when the value alone would not say
    shown: Callable[[str], str] | None = None  # how an error shows a value that may hold a secret

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("host", ("FASTPORT_HOST",), str, "address both doors listen on"),
    Option("grpc_port", ("FASTPORT_GRPC_PORT",), _port, "gRPC port; 0 picks a free port"),
    Option("http_port", ("FASTPORT_HTTP_PORT", "PORT"), _port, "HTTP/WebSocket port; 0 picks a free port"),
    Option("data_dir", ("FASTPORT_DATA_DIR",), Path, "directory for the database and the admin token"),
    Option("store", ("FASTPORT_STORE", "DB_TYPE"), Choice(("memory", "sqlite")), "storage backend"),
    Option(
        "sqlite_path",
        ("FASTPORT_SQLITE_PATH", "SQLITE_PATH"),
        Path,
        "SQLite database file",
        default_text="DATA_DIR/fastport.db",
    ),
    Option(
        "fsync",
        ("FASTPORT_FSYNC",),
        Choice(("normal", "full")),
        "sqlite durability: normal survives a crash of the process, full also a power loss (slower)",
    ),
    Option(
        "admin_token",
        ("FASTPORT_ADMIN_TOKEN",),
        str,
        "admin token",
        default_text="generated on first start and kept in DATA_DIR/admin-token",
    ),
    Option("admin_user", ("FASTPORT_ADMIN_USER", "ADMIN_USER"), str, "HTTP Basic admin user for the REST API"),
    Option("admin_pass", ("FASTPORT_ADMIN_PASS", "ADMIN_PASS"), str, "HTTP Basic admin password for the REST API"),
    Option(
        "open_admin",
        ("FASTPORT_OPEN_ADMIN",),
        _bool,
        "allow REST session creation without admin credentials (first-generation clients)",
        is_flag=True,
    ),
    Option("max_payload", ("FASTPORT_MAX_PAYLOAD_SIZE", "MAX_PAYLOAD_SIZE"), _positive, "largest payload in bytes"),
    Option(
        "dedup_window_ms",
        ("FASTPORT_DEDUP_WINDOW_MS",),
        non_negative,
        "ms a settled message's id is remembered, so that publishing it again is answered as a"
        " duplicate (0: only while pending; memory grows with publish rate times window)",
    ),
    Option(
        "slow_consumer_timeout",
        ("FASTPORT_SLOW_CONSUMER_TIMEOUT",),
        non_negative,
        "seconds a subscriber's connection may have no room for its deliveries (a client that"
        " does not read) before it is disconnected with slow_consumer; 0: never",
    ),
    Option(
        "api_rate_limit",
        ("FASTPORT_API_RATE_LIMIT", "API_RATE_LIMIT"),
        _positive,
        "REST requests per 15 minutes per client address",
    ),
    Option(
        "metrics_sessions",
        ("FASTPORT_METRICS_SESSIONS",),
        non_negative,
        "GET /metrics shows per-session series for this many sessions, those with the most pending messages"
        " (0: none; session names are visible to whoever can read /metrics)",
    ),
    Option("cors_origins", ("FASTPORT_CORS_ORIGINS", "CORS_ORIGINS"), _origins, "comma-separated CORS origins"),
    Option("tls_cert", ("FASTPORT_TLS_CERT",), Path, "PEM certificate: serve TLS on both ports (SIGHUP re-reads it)"),
    Option("tls_key", ("FASTPORT_TLS_KEY",), Path, "PEM private key for --tls-cert"),
    Option(
        "log_level",
        ("FASTPORT_LOG_LEVEL",),
        Choice(("debug", "info", "warning", "error")),
        "log level (SIGHUP re-reads it from the config file)",
    ),
    Option(
        "log_format",
        ("FASTPORT_LOG_FORMAT",),
        Choice(("text", "json")),
        "log lines as text, or one JSON object per line (time, level, logger, message, session, peer)",
    ),
    Option(
        "engine",
        ("FASTPORT_ENGINE",),
        Choice(("embedded", "jetstream")),
        "embedded: one process on its store; jetstream: one of many nodes on a NATS JetStream cluster"
        " (--nats-url; see docs/scaling.md)",
    ),
    Option(
        "nats_url",
        ("FASTPORT_NATS_URL",),
        nats_urls,
        "jetstream: the NATS servers, comma-separated (nats://host:port or tls://host:port;"
        " nats://user:password@host:port to log in, never shown)",
        shown=hide_secrets,
    ),
    Option("nats_creds", ("FASTPORT_NATS_CREDS",), Path, "jetstream: NATS credentials file (user JWT and seed)"),
    Option("nats_tls_ca", ("FASTPORT_NATS_TLS_CA",), Path, "jetstream: CA to check the NATS servers' TLS certificates"),
    Option(
        "nats_replicas",
        ("FASTPORT_NATS_REPLICAS",),
        _replicas,
        "jetstream: 1 or 3 replicas of the streams and buckets fastport creates (3 survives the loss of a NATS server)",
    ),
    Option(
        "workers",
        ("FASTPORT_WORKERS",),
        _positive,
        "node processes serving the same ports (SO_REUSEPORT), to use every core; more than 1 needs --engine"
        " jetstream and fixed ports",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per option; defaults are None so that 'not given' is visible."""
    parser.add_argument("--config", type=Path, help="TOML file of settings (keys as the flags, with _)")
    defaults = Settings()
    for opt in OPTIONS:
        default = getattr(defaults, opt.name)
        envs = ", ".join(opt.env)
        if opt.default_text is not None:
            shown = opt.default_text
        elif isinstance(default, tuple):
            shown = ",".join(default) or "none"
        else:
            shown = "none" if default is None else str(default)
        help_text = f"{opt.help} [env: {envs}; default: {shown}]"
        if opt.is_flag:
            parser.add_argument(opt.flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            choices = opt.parse.choices if isinstance(opt.parse, Choice) else None
            metavar = "{" + ",".join(choices) + "}" if choices else opt.name.upper()
            parser.add_argument(opt.flag, default=None, metavar=metavar, help=help_text)


def _parse(opt: Option, raw: object, source: str) -> Any:
    if isinstance(raw, bool) and opt.is_flag:
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, list):
        raw = ",".join(str(x) for x in raw)
    if not isinstance(raw, str):
        raise ConfigError(f"{opt.name} from {source}: unsupported value {raw!r}")
    try:
        return opt.parse(raw)
    except ValueError as exc:
        shown = opt.shown(raw) if opt.shown is not None else raw
        raise ConfigError(f"{opt.name} from {source}: {shown!r} {exc}") from None


def load_settings(
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = getattr(args, "config", None) or environ.get("FASTPORT_CONFIG")
    if config_file:
        try:
            data = tomllib.loads(Path(config_file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {config_file}: {exc}") from None
        known = {o.name: o for o in OPTIONS}
        for key, raw in data.items():
            opt = known.get(key.replace("-", "_"))
            if opt is None:
                raise ConfigError(f"config file {config_file}: unknown setting {key!r}")
            values[opt.name] = _parse(opt, raw, f"config file {config_file}")
    for opt in OPTIONS:
        for env in opt.env:
            if env in environ:
                values[opt.name] = _parse(opt, environ[env], f"environment {env}")
                break
        given = getattr(args, opt.name, None) if args is not None else None
        if given is not None:
            values[opt.name] = _parse(opt, given, opt.flag)
    settings = replace(Settings(), **values)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    if settings.workers > 1 and settings.engine != "jetstream":
        raise ConfigError("--workers above 1 needs --engine jetstream (the embedded engine's store is one process's)")
    if settings.workers > 1 and not (settings.grpc_port and settings.http_port):
        raise ConfigError("--workers above 1 needs fixed ports: every worker listens on the same ones")
    return settings
