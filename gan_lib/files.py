"""Files and folders: what counts as an image, the cache folder, folders checked before the work, atomic writes with
temporary names of their own, leftovers of killed processes removed, and one training process per run folder."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import GanLibError

TEMPORARY = re.compile(r"\..+\.(\d+)\.[0-9a-f]{8}\.tmp")  # atomic_path's temporaries: .NAME.PID.HEX8.tmp
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def cache_dir() -> Path:
    """Where prepared datasets, downloads and metric statistics go: $GAN_LIB_CACHE, else ~/.cache/gan_lib."""
    return Path(os.environ.get("GAN_LIB_CACHE") or Path.home() / ".cache" / "gan_lib").expanduser()


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
    """Delete the temporaries that atomic_path left behind in processes that were killed (SIGKILL, power loss)."""
    for tmp in folder.glob(".*.tmp"):
        ours = TEMPORARY.fullmatch(tmp.name)  # only names atomic_path makes: never a user's file with digits
        if ours and not _alive(int(ours.group(1))):
            tmp.unlink(missing_ok=True)


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold the run folder for this process: a second training into it is refused (released when the process ends,
    however it ends). Where the platform has no fcntl (Windows), there is no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(folder / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise GanLibError(f"another training process (pid {holder}) is writing into {folder}: wait for it to end, "
                              "or train into another --out folder") from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        yield
