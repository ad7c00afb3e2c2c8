"""Files and folders: what counts as an image, the cache folder, folders checked before the work, atomic writes with
temporary names of their own, leftovers of killed processes removed, and one training process per run folder."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .environment import path_setting
from .errors import GanLibError

TEMPORARY = re.compile(r"\..+\.(\d+)\.[0-9a-f]{8}\.tmp")  # atomic_path's temporaries: .NAME.PID.HEX8.tmp
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def cache_dir() -> Path:
    """Where prepared datasets, downloads and metric statistics go: $GAN_LIB_CACHE, else ~/.cache/gan_lib."""
    return path_setting("GAN_LIB_CACHE", Path.home() / ".cache" / "gan_lib")


def check_writable(folder: Path, what: str, fix: str) -> None:
    """Create folder (and its parents) and write a file in it now: a clear error before any long work."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GanLibError(f"cannot write {what} {folder} ({exc.strerror or exc}): {fix}") from exc


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, unique to this process and call: renamed onto `path` if the block succeeds,
    removed if it fails or is interrupted (the old `path` is then left as it was). Two processes writing the same
    file never share a temporary. A failed write (a full disk, say) is a GanLibError that names `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")  # the TEMPORARY pattern
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise GanLibError(f"could not write {path} ({exc.strerror or exc}): free some space or choose another "
                          "folder; any earlier version of it is kept") from exc
    except RuntimeError as exc:  # torch.save's C++ writer reports a full disk as a RuntimeError
        raise GanLibError(f"could not write {path} (the write failed: is the disk full?): free some space or "
                          "choose another folder; any earlier version of it is kept") from exc
    finally:
        tmp.unlink(missing_ok=True)


def save_atomically(obj: object, path: Path) -> Path:
    """torch.save through atomic_path, flushed to disk: the folder is made, and a kill mid-save keeps the old file."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_dead_temporaries(folder: Path) -> None:
    """Delete the temporaries that atomic_path left behind, in folder and below it, in processes that were killed
    (SIGKILL, power loss)."""
    for tmp in folder.rglob(".*.tmp"):
        ours = TEMPORARY.fullmatch(tmp.name)  # only names atomic_path makes: never a user's file with digits
        if ours and not _alive(int(ours.group(1))):
            tmp.unlink(missing_ok=True)


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten (inode, size, modification time), or None if it is absent."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


_HELD: dict[Path, int] = {}  # the run folders this process holds, and how many run_lock blocks hold each


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold the run folder for this process: any other process that asks for it (a command-line training, a
    notebook's) is refused while this one holds it; nested blocks of one process share the hold. Released when the
    block ends, or the process (however it ends). A folder left holding nothing but the lock file is tidied away:
    the file, and the folder if this block made it. Where the platform has no fcntl (Windows), there is no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    key = folder.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    made = not folder.exists()
    check_writable(folder, "the run folder", "choose another folder")
    with open(folder / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise GanLibError(f"another process (pid {holder}) is training into {folder}: wait for it to end, or "
                              "train into another folder") from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            with contextlib.suppress(OSError):  # the folder may be gone, or in use again
                if [p.name for p in folder.iterdir()] == [".lock"]:  # refused before it wrote anything: no trace
                    (folder / ".lock").unlink()
                    if made:
                        folder.rmdir()


def check_free(folder: Path) -> None:
    """Refuse now, in one line, if another process holds the run folder (see run_lock)."""
    if folder.is_dir() and (folder / ".lock").exists():
        with run_lock(folder):
            pass
