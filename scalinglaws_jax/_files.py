"""Atomic writes: every file the library writes appears whole or not at all.

A file is written to a temporary name beside it, ``.NAME.HOST.PID.RANDOM.tmp``, and renamed
into place. The writer's host and process id in that name let ``stale_temporaries`` tell
what a killed writer left behind from what a running one is still writing, so several
processes can share a directory.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>[0-9]+)\.[0-9a-f]+\.tmp$")


def atomic_write(path, write, *, exclusive: bool = False) -> None:
    """Write ``path`` through ``write(handle)`` (a binary file) to a temporary file beside
    it, flushed to disk, then renamed over ``path``; on any error the temporary file is
    removed and ``path`` is left as it was.

    The file gets the permissions ``open(path, "w")`` would give it: those of the file it
    replaces, else 0o666 less the umask. With ``exclusive=True`` an existing ``path`` is
    never replaced: ``FileExistsError`` is raised instead, so that of several processes
    creating one file exactly one succeeds.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    replaced = None if exclusive else _mode(path)
    temporary, descriptor = _create_temporary(directory, path.name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if replaced is not None:
                os.chmod(temporary, replaced)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            _link(temporary, path)
        else:
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def stale_temporaries(directory) -> list[Path]:
    """Temporary files in ``directory`` left by writers that are no longer running.

    Only a writer on this host (and in this process namespace) can be known to be gone;
    temporary files of other hosts are never reported.
    """
    host = _host()
    stale = []
    for path in Path(directory).glob(".*.tmp"):
        match = _TEMPORARY.match(path.name)
        if match and match["host"] == host and not _running(int(match["pid"])):
            stale.append(path)
    return stale


def _create_temporary(directory: Path, name: str) -> tuple[Path, int]:
    """A new file ``.NAME.HOST.PID.RANDOM.tmp`` in ``directory``, opened for writing."""
    while True:
        temporary = directory / f".{name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def _mode(path: Path) -> int | None:
    """The permission bits of ``path``, or None when there is no such file."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _link(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path`` unless that exists (FileExistsError)."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: check, then rename
        if path.exists():
            raise FileExistsError(f"{path} exists") from None
        os.replace(temporary, path)
    else:
        os.unlink(temporary)


def _host() -> str:
    """This host's name, and on Linux its process namespace (containers on one host may share
    a name but not their process ids), as characters safe in a file name."""
    host = socket.gethostname()
    try:
        host += f"-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        pass
    return re.sub(r"[^A-Za-z0-9_-]", "-", host) or "host"


def _running(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
