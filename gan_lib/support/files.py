"""Files and folders: what counts as an image, the cache folder, folders checked before the work, atomic writes with
temporary names of their own, leftovers of killed processes removed, and one training process per run folder."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .environment import path_setting
from .errors import GanLibError

try:
    import fcntl
except ImportError:  # Windows: no run lock (see run_lock)
    fcntl = None

TEMPORARY = re.compile(r"\..+\.(\d+)\.[0-9a-f]{8}\.tmp")  # atomic_path's temporaries: .NAME.PID.HEX8.tmp
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
NAME_MAX = 255  # bytes in a file name, on the usual filesystems


def cache_dir() -> Path:
    """Where prepared datasets, downloads and metric statistics go: $GAN_LIB_CACHE, else ~/.cache/gan_lib."""
    return path_setting("GAN_LIB_CACHE", Path.home() / ".cache" / "gan_lib")


def check_writable(folder: Path, what: str, fix: str) -> None:
    """Create folder (and its parents) and write a file in it now: a clear error before any long work."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}-{secrets.token_hex(4)}"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL))  # O_EXCL: never through a link
        probe.unlink()
    except OSError as exc:
        raise GanLibError(f"cannot write {what} {folder} ({exc.strerror or exc}): {fix}") from exc


def write_fix(exc: OSError) -> str:
    """What to do about a file that could not be written, from the reason."""
    if exc.errno == errno.ENAMETOOLONG:
        return "choose a shorter name"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "choose a writable folder"
    return "free some space or choose another folder"


def _refuse_links(path: Path) -> None:
    """Refuse `path` if it is a symbolic link, or if a folder between it and a run folder this process holds
    (run_lock) is one: nothing is written outside the folder the user named."""
    path = path.absolute()
    held = next((depth for depth, folder in enumerate(path.parents) if folder.resolve() in _HELD), 0) if _HELD else 0
    for entry in (path, *path.parents[:held]):
        if entry.is_symlink():
            raise _link_refused(entry)


def _link_refused(link: Path, fix: str = "remove it, or put a copy of what it links to in its place") -> GanLibError:
    return GanLibError(f"{link} is a symbolic link: {fix} (gan_lib never writes through a link)")


def _temporary(path: Path) -> Path:
    """A name beside `path` in the TEMPORARY pattern, with `path`'s name cut until it fits in NAME_MAX bytes."""
    suffix = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
    name = path.name
    while len(os.fsencode(f".{name}{suffix}")) > NAME_MAX:
        name = name[:-1]
    return path.with_name(f".{name}{suffix}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A new empty temporary beside `path` (its folder made), unique to this process and call: renamed onto `path`
    if the block succeeds, removed if it fails or is interrupted (the old `path` is then left as it was). Two
    processes writing the same file never share a temporary. A `path` that is a link is refused (see _refuse_links);
    a failed write (a full disk, say) is a GanLibError that names `path` and the fix."""
    _refuse_links(path)
    tmp, made = _temporary(path), False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL))  # O_EXCL: never through a link
        made = True
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise GanLibError(f"could not write {path} ({exc.strerror or exc}): {write_fix(exc)}; any earlier version "
                          "of it is kept") from exc
    except RuntimeError as exc:  # torch.save's C++ writer reports a full disk as a RuntimeError
        raise GanLibError(f"could not write {path} (the write failed: is the disk full?): free some space or "
                          "choose another folder; any earlier version of it is kept") from exc
    finally:
        if made:
            tmp.unlink(missing_ok=True)


def save_atomically(obj: object, path: Path) -> Path:
    """torch.save through atomic_path, flushed to disk: the folder is made, and a kill mid-save keeps the old file."""
    import torch

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
        if ours and not tmp.is_symlink() and not _alive(int(ours.group(1))):
            tmp.unlink(missing_ok=True)


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten (inode, size, modification time), or None if it is absent."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


_HELD: dict[Path, int] = {}  # the run folders this process holds, and how many run_lock blocks hold each


def _take_lock(lock: Path, folder: Path) -> int:
    """A descriptor of the file `lock`, flocked, with this pid in it; refused if another process holds it or `lock`
    is a symbolic link."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW)
        except OSError:
            if lock.is_symlink():
                raise _link_refused(lock, "remove it") from None
            raise
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:  # a hard link: writing it writes another file
            os.close(fd)
            raise GanLibError(f"{lock} is not a lock file of its own (a hard link or not a plain file): remove it "
                              "(gan_lib never writes through a link)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise GanLibError(f"another process (pid {holder}) is training into {folder}: wait for it to end, or "
                              "train into another folder") from None
        if _is_file_at(fd, lock):
            break
        os.close(fd)  # the process that held it removed it as it ended: take the one at that name now
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _is_file_at(fd: int, path: Path) -> bool:
    """Whether `path` (not followed if a link) is the file open as `fd`."""
    try:
        return os.path.samestat(os.fstat(fd), os.lstat(path))
    except FileNotFoundError:
        return False


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold the run folder for this process: any other process that asks for it (a command-line training, a
    notebook's) is refused while this one holds it; nested blocks of one process share the hold. Released when the
    block ends, or the process (however it ends), and its lock file removed; the folder too if this block made it
    and it is left empty. A `.lock` that is a link is refused. Where the platform has no fcntl (Windows), there is
    no lock."""
    if fcntl is None:
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
    lock = folder / ".lock"
    fd = _take_lock(lock, folder)
    _HELD[key] = 1
    try:
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):  # the folder may be gone
            if _is_file_at(fd, lock):  # ours, never a link put in its place: removed while still held
                lock.unlink()
            if made:
                folder.rmdir()  # only if empty: a command refused before it wrote anything leaves no trace
        os.close(fd)


def check_free(folder: Path) -> None:
    """Refuse now, in one line, if another process holds the run folder (see run_lock)."""
    if folder.is_dir() and os.path.lexists(folder / ".lock"):
        with run_lock(folder):
            pass
