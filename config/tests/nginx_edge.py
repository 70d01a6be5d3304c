"""The shipped nginx config (deploy/nginx.conf) run by a real nginx (Debian's, from scripts/ensure-nginx.sh) in front
of real workers, as the tests need it: its own port on loopback, the workers' ports as its upstreams, optionally TLS
with a certificate made for the test and addresses exempt from the per-address limits. Everything else (routing,
limits, headers, timeouts) is the file as shipped."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from conftest import reachable, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Edge:
    proc: subprocess.Popen
    port: int
    scheme: str  # http or https
    certificate: Path | None

    @property
    def url(self) -> str:
        return f"{self.scheme}://localhost:{self.port}" if self.certificate else f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, valid for a day, and its key."""
    cert, key = directory / "edge-cert.pem", directory / "edge-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def start_edge(
    directory: Path, port: int, upstream_ports: list[int], *, tls: bool = False, exempt: tuple[str, ...] = ()
) -> Edge:
    if not Path(NGINX).exists():
        raise RuntimeError("nginx is missing: run scripts/ensure-nginx.sh (make test does)")
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = "\n    ".join(f"server 127.0.0.1:{p} max_fails=3 fail_timeout=5s;" for p in upstream_ports)
    site = site.replace("server web:8000 max_fails=3 fail_timeout=5s;", servers)
    certificate = None
    if tls:
        certificate, key = self_signed_certificate(directory)
        listen = f"listen 127.0.0.1:{port} ssl;\n    ssl_certificate {certificate};\n    ssl_certificate_key {key};"
    else:
        listen = f"listen 127.0.0.1:{port};"
    site = re.sub(r"listen 80;", listen, site)
    site = site.replace("alias /srv/static/;", f"alias {ROOT / 'static'}/;")
    site = site.replace("alias /srv/media/;", f"alias {settings.MEDIA_ROOT}/;")  # where the tests' workers write
    exempt_file = directory / "limits-exempt.conf"
    exempt_file.write_text((ROOT / "deploy" / "limits-exempt.conf").read_text() + "".join(f"{a} 1;\n" for a in exempt))
    site = site.replace("include /etc/nginx/gavel-limits-exempt.conf;", f"include {exempt_file};")
    (directory / "site.conf").write_text(site)
    temp = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    (directory / "nginx.conf").write_text(
        f"daemon off; master_process off; pid {directory}/nginx.pid; error_log {directory}/error.log;\n"
        "events {}\nhttp {\n  access_log off;\n  include /etc/nginx/mime.types;\n"
        f"  client_body_temp_path {temp['body']}; proxy_temp_path {temp['proxy']};\n"
        f"  fastcgi_temp_path {temp['fastcgi']}; uwsgi_temp_path {temp['uwsgi']}; scgi_temp_path {temp['scgi']};\n"
        f"  include {directory}/site.conf;\n}}\n"
    )
    proc = subprocess.Popen([NGINX, "-c", str(directory / "nginx.conf"), "-p", str(directory)])
    try:
        wait_until(lambda: proc.poll() is not None or reachable("127.0.0.1", port), interval=0.05)
    except AssertionError:
        proc.kill()
        proc.wait()
    if proc.poll() is not None:
        raise RuntimeError("nginx did not start: " + (directory / "error.log").read_text())
    return Edge(proc, port, "https" if tls else "http", certificate)
