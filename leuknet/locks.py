"""Advisory locks between processes: a run directory, a study's bookkeeping, a cache entry.

A lock is ``fcntl.flock`` on a small lock file (``<thing>.lock`` beside the thing it guards) that holds the
owner's pid and host. The OS releases it when the owner exits or dies, so a crashed run's directory can be taken
over (``--resume``) with no stale-lock clean-up. Works between processes on one machine and, where the file
system supports ``flock`` (local disks, NFSv4, Lustre/GPFS with locking on), between machines.

The owner deletes the lock file when it releases the lock; a process that opened the file before the deletion
notices (the path names another file, or none) and opens it again, so at most one process holds the lock on the
file that the path names.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import socket
import time
from pathlib import Path

from leuknet.errors import InUseError


def lock_path_for(target) -> Path:
    """The lock file that guards ``target`` (a directory or a file): ``<target>.lock`` beside it."""
    target = Path(target)
    return target.with_name(target.name + ".lock")


def owner(path) -> dict | None:
    """``{"pid", "host"}`` written by the holder of the lock file at ``path`` (None if none or unreadable)."""
    try:
        text = Path(path).read_text(encoding="utf-8").split()
        return {"pid": int(text[0]), "host": text[1] if len(text) > 1 else ""}
    except (OSError, ValueError, IndexError):
        return None


def _describe(info) -> str:
    if not info:
        return "another process"
    here = info.get("host") in ("", socket.gethostname())
    return f"process {info['pid']}" + ("" if here else f" on {info['host']}")


class Lock:
    """A held lock; :meth:`release` (or leaving a ``with`` block) frees it and deletes the lock file."""

    def __init__(self, path: Path, fd: int, made=()):
        self.path, self.fd = path, fd
        self.made = list(made)  # folders created for the lock file, removed on release when left empty

    @property
    def held(self) -> bool:
        return self.fd is not None

    def release(self):
        if self.fd is None:
            return
        try:
            if _same_file(self.fd, self.path):
                os.unlink(self.path)  # before unlocking: a waiter then finds the path gone and opens it anew
        except OSError:
            pass
        os.close(self.fd)  # closing the last descriptor releases the flock
        self.fd = None
        if _claimed.get(str(self.path)) is self:
            del _claimed[str(self.path)]
        for folder in self.made:  # deepest first: a refused command leaves no empty folder behind
            try:
                folder.rmdir()
            except OSError:
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _same_file(fd, path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _try_once(path: Path):
    """A held Lock, or None when another process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # the previous owner released and deleted it after we opened it: open the new one
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    return Lock(path, fd)


def acquire(path, timeout: float = 0, what: str | None = None, poll: float = 0.1, error=InUseError,
            hint: str | None = None) -> Lock:
    """Take the lock file ``path`` (created with its folder if needed). ``timeout`` 0: refuse at once if another
    process holds it; otherwise wait up to ``timeout`` seconds. Raises ``error`` (:class:`InUseError`) naming
    ``what`` (default: the lock file) and the holder's pid, then ``hint`` (what to do)."""
    path = Path(path)
    made = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        lock = _try_once(path)
        if lock is not None:
            lock.made = made
            return lock
        if time.monotonic() >= deadline:
            info = owner(path)
            waited = f" (waited {timeout:g} s)" if timeout else ""
            raise error(f"{what or path} is in use by {_describe(info)}{waited}"
                        + (f"; {hint}" if hint else f" (lock file {path})"), path, info)
        time.sleep(poll)


_claimed: dict[str, Lock] = {}  # locks this process holds through claim(), by path


def claim(path, what: str | None = None, error=InUseError, hint: str | None = None) -> Lock:
    """Like :func:`acquire` (no waiting), but a lock this process already claimed is returned as it is: a command
    checks its output before any work, and the run it then starts claims the same directory again."""
    held = _claimed.get(str(Path(path)))
    if held is not None and held.held:
        return held
    lock = acquire(path, what=what, error=error, hint=hint)
    _claimed[str(lock.path)] = lock
    return lock


def held_by_this_process(path) -> bool:
    held = _claimed.get(str(Path(path)))
    return held is not None and held.held


@atexit.register
def _release_all():  # a normal exit leaves no lock file behind (a crash leaves one, and no lock)
    for lock in list(_claimed.values()):
        lock.release()


__all__ = ["InUseError", "Lock", "acquire", "claim", "owner", "lock_path_for", "held_by_this_process"]
