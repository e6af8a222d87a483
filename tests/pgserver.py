"""A throwaway PostgreSQL server for the shared-ledger tests and bench/ledger.py.

`initdb` and `pg_ctl` from the PATH (or a Debian/Ubuntu `/usr/lib/postgresql/*/bin`) make
a cluster in a temporary folder, listening on 127.0.0.1 on a free port, with password
authentication (scram-sha-256) for a lab role (`USER`, `PASSWORD`) that owns a database.
PostgreSQL refuses to run as root: as root, the cluster is made and started as the
`postgres` user (`runuser -u postgres --`), in a folder that user owns.

    server = ThrowawayServer().start()
    url = server.create_database("lab")          # postgresql://127.0.0.1:PORT/lab, no credentials
    env = server.credentials                     # PGUSER, PGPASSWORD for libpq
    server.stop()
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "lab"
PASSWORD = "lab-" + secrets.token_hex(8)  # this process's server only


def binaries() -> dict[str, str] | None:
    """Where initdb and pg_ctl are (None: not installed)."""
    found = {name: shutil.which(name) for name in ("initdb", "pg_ctl")}
    if all(found.values()):
        return found  # type: ignore[return-value]
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        paths = {name: os.path.join(folder, name) for name in ("initdb", "pg_ctl")}
        if all(os.access(p, os.X_OK) for p in paths.values()):
            return paths
    return None


def missing() -> str | None:
    """Why no server can be started here (None: it can)."""
    if binaries() is None:
        return "PostgreSQL's server (initdb, pg_ctl) is not installed"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser, and PostgreSQL refuses to run as root"
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run PostgreSQL as"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayServer:
    def __init__(self, *, durable: bool = False):
        self.durable = durable  # fsync as a real server does (benchmarks); tests need not
        self.port = 0
        self.folder: Path | None = None
        self._as: list[str] = []
        self._bin = binaries() or {}

    @property
    def credentials(self) -> dict[str, str]:
        return {"PGUSER": USER, "PGPASSWORD": PASSWORD}

    def url(self, database: str) -> str:
        return f"postgresql://127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as, *args], check=True, capture_output=True, text=True, timeout=60, **kwargs)

    def start(self) -> "ThrowawayServer":
        self.folder = Path(tempfile.mkdtemp(prefix="survey-bridge-pg-"))
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        pwfile = self.folder / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        data = self.folder / "data"
        self._cmd(self._bin["initdb"], "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync", "--no-instructions")
        pwfile.unlink()
        fast = "" if self.durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for attempt in range(3):  # the free port can be taken meanwhile: try another
            self.port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=60" + fast
            try:
                self._cmd(self._bin["pg_ctl"], "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w",
                          "-t", "30", "start")
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise RuntimeError("PostgreSQL did not start: " + (self.folder / "log").read_text()[-2000:])
        self.admin(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}' CREATEDB")
        return self

    def admin(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", password=PASSWORD,
                             dbname=database, autocommit=True) as db:
            db.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """A new database owned by the lab role; its URL (no credentials in it)."""
        name = name or "ledger_" + secrets.token_hex(6)
        self.admin(f"CREATE DATABASE {name} OWNER {USER}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            self._cmd(self._bin["pg_ctl"], "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        for _ in range(20):
            try:
                shutil.rmtree(self.folder)
                break
            except OSError:
                time.sleep(0.1)
        self.folder = None
