"""deploy/: what can be checked without a container engine or a cluster.

The YAML parses and says what it must (probes on /health, limits, non-root); systemd
accepts the unit (``systemd-analyze verify``); nginx accepts the proxy sample
(``nginx -t``) and, started with it in front of a real server, carries HTTPS, WSS and
gRPC over TLS to it; the Dockerfile is multi-stage, non-root, with a health check, and its
RUN steps are scripts that run here too (deploy/install.sh runs in .ci/run; the health
check runs below against a real server)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from websockets.asyncio.client import connect as ws_connect

from ..support import ADMIN_TOKEN, ServerProcess, self_signed_certificate

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_kubernetes_manifests() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "fastport.yaml").read_text()))
    kinds = {doc["kind"]: doc for doc in docs}
    assert set(kinds) == {"PersistentVolumeClaim", "Deployment", "Service", "PodDisruptionBudget"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 3000, "grpc": 50051}
    selector = kinds["Deployment"]["spec"]["selector"]["matchLabels"]
    assert kinds["Service"]["spec"]["selector"] == selector
    assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector


def test_compose_file() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    (name,) = compose["services"]
    service = compose["services"][name]
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])
    assert (DEPLOY / service["build"]["dockerfile"].removeprefix("deploy/")).exists()


def test_dockerfile_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.M)
    assert len(stages) == 2 and stages[0][1] == "build"
    runtime = text[text.rindex("\nFROM ") :]
    assert "COPY --from=build /opt/fastport /opt/fastport" in runtime
    (user,) = re.findall(r"^USER (\S+)", runtime, re.M)
    assert not user.startswith(("0", "root"))
    assert '"/opt/fastport/healthcheck.py"' in re.search(r"^HEALTHCHECK .*?\]$", text, re.M | re.S).group(0)
    runs = re.findall(r"^RUN (.+)$", text, re.M)
    assert runs[0] == "deploy/install.sh /opt/fastport"  # the script .ci/run runs too
    install = (DEPLOY / "install.sh").read_text()
    assert "cp deploy/healthcheck.py" in install and "'.[" not in install  # runtime dependencies only


def test_health_check_script(server_process: ServerProcess) -> None:
    server_process.start()
    check = [sys.executable, str(DEPLOY / "healthcheck.py")]
    env = {"FASTPORT_HTTP_PORT": str(server_process.ports["http"]), "PATH": "/usr/bin:/bin"}
    assert subprocess.run(check, env=env, timeout=30).returncode == 0
    assert server_process.stop() == 0
    down = subprocess.run(check, env=env, capture_output=True, text=True, timeout=30)
    assert down.returncode == 1 and "fastport health" in down.stderr


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: .ci/run installs the systemd package"
    # The unit runs /opt/fastport/bin/fastport (deploy/install.sh /opt/fastport); here, an
    # installed fastport at a temporary prefix stands in for it.
    prefix = tmp_path / "opt" / "fastport"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "fastport").symlink_to(Path(sys.prefix) / "bin" / "fastport")
    unit = tmp_path / "fastport.service"
    unit.write_text((DEPLOY / "systemd" / "fastport.service").read_text().replace("/opt/fastport", str(prefix)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "fastport.service" not in done.stderr, done.stderr
    text = unit.read_text()
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes", "ExecReload=/bin/kill -HUP"):
        assert option in text


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def _nginx_config(tmp_path: Path, http: int, grpc: int, tls_port: int, grpcs_port: int) -> Path:
    """The sample with this test's certificate, fastport's ports and free TLS ports,
    inside a minimal nginx.conf that writes nothing outside ``tmp_path``."""
    cert, key = self_signed_certificate(tmp_path)
    site = (DEPLOY / "nginx" / "fastport.conf").read_text()
    for old, new in (
        ("/etc/nginx/tls/fastport.crt", str(cert)),
        ("/etc/nginx/tls/fastport.key", str(key)),
        ("server 127.0.0.1:3000;", f"server 127.0.0.1:{http};"),
        ("server 127.0.0.1:50051;", f"server 127.0.0.1:{grpc};"),
        ("listen 443 ssl", f"listen 127.0.0.1:{tls_port} ssl"),
        ("listen 50443 ssl", f"listen 127.0.0.1:{grpcs_port} ssl"),
    ):
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "fastport.conf").write_text(site)
    temp = "\n".join(f"  {kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temp}\n  include {tmp_path}/fastport.conf;\n}}\n"
    )
    return main


def _nginx() -> str:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx missing: .ci/run installs it"
    return nginx


def test_nginx_config_is_accepted(tmp_path: Path) -> None:
    main = _nginx_config(tmp_path, 3000, 50051, 443, 50443)
    done = subprocess.run([_nginx(), "-t", "-c", str(main)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr


def test_nginx_sample_proxies_https_wss_and_grpcs(server_process: ServerProcess, tmp_path: Path) -> None:
    server_process.start()
    tls_port, grpcs_port = _free_port(), _free_port()
    main = _nginx_config(tmp_path, server_process.ports["http"], server_process.ports["grpc"], tls_port, grpcs_port)
    nginx = subprocess.Popen([_nginx(), "-c", str(main), "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        cert = tmp_path / "cert.pem"
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"https://localhost:{tls_port}/health", context=context, timeout=10) as resp:
            assert resp.status == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
        grpcs = ["--server", f"grpcs://localhost:{grpcs_port}", "--tls-ca", str(cert)]
        created = subprocess.run(
            [sys.executable, "-m", "fastport", "session", "create", "proxied", "--password", "pw", *grpcs,
             "--admin-token", ADMIN_TOKEN],
            capture_output=True, text=True, timeout=30,
        )
        assert created.returncode == 0, created.stderr

        async def websocket() -> str:
            async with ws_connect(f"wss://localhost:{tls_port}/", ssl=context) as ws:
                await ws.send(json.dumps({"type": "init", "sessionName": "proxied", "password": "pw"}))
                return str(await asyncio.wait_for(ws.recv(), 10))

        assert json.loads(asyncio.run(websocket()))["success"] is True
    finally:
        nginx.terminate()
        nginx.wait(10)
