"""Every mistake ends in one line, nothing a user made is lost, no folder is too messy: with real files and processes.

Permissions mean nothing to root (CI runs as root), so a folder that cannot be written is made immutable, and one that
cannot be read is refused where it is listed: no case needs another user, and the tests pass wherever the project is
cloned, in a folder only its owner can enter too.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gan_lib.data.image_cache as image_cache
import gan_lib.data.images as images
from conftest import same_tensors
from gan_lib.data import prepare_folder
from gan_lib.runs.checkpoint import read_checkpoint
from gan_lib.runs.cli import main
from gan_lib.runs.run_folder import TrainingRun
from gan_lib.support.errors import printable
from gan_lib.support.files import cache_dir
from gan_lib.train import TrainingDiverged

TINY = ["--synthetic-count", "64", "--image-size", "32", "--g-width", "8", "--d-width", "8", "--batch-size", "16",
        "--quiet"]


def _faces(folder: Path, n: int, size: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return folder


@contextmanager
def unwritable(folder: Path):
    """A folder nobody can write into, root included: immutable (chattr +i) for root, read-only mode otherwise. Either
    works wherever the project is cloned, a folder only its owner can enter included."""
    folder.mkdir()
    root = os.geteuid() == 0
    if root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


@pytest.fixture
def open_dir():
    """A folder outside pytest's tmp_path, for commands run in processes of their own."""
    folder = Path(tempfile.mkdtemp(prefix="gan-lib-test-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _cli(*args, cwd, env=None, preexec_fn=None, wait=True):
    """Run `python -m gan_lib ARGS` in a process of its own."""
    command = [sys.executable, "-m", "gan_lib", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})}

    def as_in_a_terminal():  # a background job of a script ignores Ctrl-C; a user's command does not
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if preexec_fn:
            preexec_fn()

    popen = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=as_in_a_terminal)
    if not wait:
        return popen
    out, err = popen.communicate(timeout=300)
    return popen.returncode, out, err


def _one_line_error(err: str, *fragments: str) -> None:
    lines = [line for line in err.strip().splitlines() if not line.startswith(("preparing", "training"))]
    assert "Traceback" not in err, err
    assert lines and lines[-1].startswith("error: "), err
    assert all(f in lines[-1] for f in fragments), (fragments, err)


# 1. Fail before the work ------------------------------------------------------------------------------------------

def test_a_run_folder_that_cannot_be_written_stops_before_any_work(tmp_path, capsys, open_dir):
    faces = _faces(tmp_path / "faces", 40)
    (tmp_path / "a-file").write_text("in the way")
    for out, why in ((tmp_path / "a-file" / "run", "Not a directory"), (tmp_path / ("x" * 300), "too long")):
        assert main(["train", "--data", str(faces), *TINY, "--out", str(out), "--steps", "2"]) == 2
        _one_line_error(capsys.readouterr().err, "cannot write the run folder", why, "choose another --out")
    assert not list(cache_dir().glob("*.u8"))  # refused before the images were even decoded
    with unwritable(tmp_path / "read-only") as read_only:
        assert main(["train", "--data", "synthetic", *TINY, "--out", str(read_only / "run"), "--steps", "2"]) == 2
        err = capsys.readouterr().err
        _one_line_error(err, "cannot write the run folder", "choose another --out")
        assert "Permission denied" in err or "Operation not permitted" in err
    assert main(["train", "--data", "synthetic", *TINY, "--out", str(tmp_path / "new" / "parents" / "run"),
                 "--steps", "1"]) == 0  # missing parents are made


# 2. Damaged caches are rebuilt ------------------------------------------------------------------------------------

SUMMARY_DAMAGE = {  # a summary that parses but would mislead: each field of the wrong type or length
    "paths of another length": lambda s: s | {"paths": s["paths"][:-1]},
    "a path that is not text": lambda s: s | {"paths": [1] + s["paths"][1:]},
    "sizes that are not pairs": lambda s: s | {"original_sizes": [[1]] * s["images"]},
    "digests missing": lambda s: {k: v for k, v in s.items() if k != "digests"},
    "skipped not a dict": lambda s: s | {"skipped": ["a.png"]},
    "more images than files": lambda s: s | {"files": s["images"] - 1},
    "another image size": lambda s: s | {"image_size": 64},
    "not an object": lambda s: [s],
}


@pytest.mark.parametrize("damage", ["truncated array", "empty array", "broken summary", "empty summary",
                                    *SUMMARY_DAMAGE])
def test_a_damaged_cache_is_rebuilt(tmp_path, damage):
    faces = _faces(tmp_path / "faces", 20)
    first = prepare_folder(faces, 32, workers=1)
    expected = first.images.clone()
    array_file, summary_file = first.cache_file, first.cache_file.with_suffix(".json")
    summary = json.loads(summary_file.read_text())
    del first
    if damage == "truncated array":
        array_file.write_bytes(array_file.read_bytes()[:1000])
    elif damage == "empty array":
        array_file.write_bytes(b"")
    elif damage == "broken summary":
        summary_file.write_text(summary_file.read_text()[:50])
    elif damage == "empty summary":
        summary_file.write_text("")
    else:
        summary_file.write_text(json.dumps(SUMMARY_DAMAGE[damage](json.loads(summary_file.read_text()))))
    again = prepare_folder(faces, 32, workers=1)
    assert torch.equal(again.images, expected) and json.loads(summary_file.read_text()) == summary


def test_leftovers_of_killed_processes_go_and_live_ones_stay(tmp_path):
    faces = _faces(tmp_path / "faces", 10)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_tmp = cache / f".faces.u8.{dead.stdout.strip()}.0a1b2c3d.tmp"
    live_tmp = cache / f".faces.u8.{os.getppid()}.0a1b2c3d.tmp"
    for tmp in (dead_tmp, live_tmp):
        tmp.write_bytes(b"half a cache")
    assert len(prepare_folder(faces, 32, workers=1)) == 10
    assert not dead_tmp.exists() and live_tmp.exists()


def test_a_cache_folder_that_cannot_be_written_is_named_before_any_work(tmp_path, monkeypatch, capsys):
    faces = _faces(tmp_path / "faces", 10)
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")
    monkeypatch.setenv("GAN_LIB_CACHE", str(blocked))
    monkeypatch.setattr(image_cache, "ProcessPoolExecutor", lambda *a: pytest.fail("decoded before checking the cache"))
    assert main(["prepare", "--data", str(faces)]) == 2
    _one_line_error(capsys.readouterr().err, f"cannot write the cache folder {blocked}", "GAN_LIB_CACHE")

    import gan_lib.measure.attributes as attributes

    run = tmp_path / "run"
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path / "cache"))
    assert main(["train", "--data", "synthetic", *TINY, "--out", str(run), "--steps", "1"]) == 0
    monkeypatch.setenv("GAN_LIB_CACHE", str(blocked))
    monkeypatch.setattr(attributes, "train_attribute_classifier", lambda: pytest.fail("trained before checking"))
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--metric", "modes", "--n", "8"]) == 2
    _one_line_error(capsys.readouterr().err, "cannot write the cache folder", "GAN_LIB_CACHE")


def _file_size_limit(limit: int):
    """For a child process: files larger than `limit` bytes cannot be written (EFBIG), as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_is_one_line_naming_the_path_and_keeps_what_was_there(open_dir):
    faces = _faces(open_dir / "faces", 200)
    cache = open_dir / "cache"
    code, _, err = _cli("prepare", "--data", faces, "--image-size", "32", cwd=open_dir, env={"GAN_LIB_CACHE": cache},
                        preexec_fn=_file_size_limit(100_000))
    assert code == 2
    _one_line_error(err, "could not write", str(cache), "File too large")
    assert not [p for p in cache.iterdir() if p.suffix in (".tmp", ".u8")]  # no half cache left behind
    run = open_dir / "run"
    assert main(["train", "--data", "synthetic", "--synthetic-count", "64", "--image-size", "32", "--batch-size",
                 "16", "--out", str(run), "--steps", "2", "--quiet"]) == 0
    before = (run / "checkpoint.pt").read_bytes()
    code, _, err = _cli("train", "--data", "synthetic", "--out", run, "--steps", "4", "--resume", "--quiet",
                        cwd=open_dir, env={"GAN_LIB_CACHE": cache}, preexec_fn=_file_size_limit(len(before) - 1))
    assert code == 2
    _one_line_error(err, f"could not write {run / 'checkpoint.pt'}", "earlier version of it is kept")
    assert (run / "checkpoint.pt").read_bytes() == before
    assert not list(run.glob(".*.tmp"))


# 3. Two processes at once -----------------------------------------------------------------------------------------

def test_two_prepares_of_one_folder_at_once_both_succeed(open_dir):
    faces = _faces(open_dir / "faces", 600, size=96)
    cache = open_dir / "cache"
    runs = [_cli("prepare", "--data", faces, "--image-size", "64", cwd=open_dir, env={"GAN_LIB_CACHE": cache},
                 wait=False) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    assert [code for code, _ in results] == [0, 0], results
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".u8"]  # one cache, no temporaries
    assert len(prepare_folder(faces, 64)) == 600


def test_a_second_training_into_a_run_folder_is_refused(open_dir):
    run = open_dir / "run"
    first = _cli("train", "--data", "synthetic", "--synthetic-count", "256", "--image-size", "32", "--out", run,
                 "--steps", "100000", "--quiet", cwd=open_dir, env={"GAN_LIB_CACHE": open_dir / "cache"}, wait=False)
    try:
        deadline = time.time() + 60
        while not ((run / ".lock").exists() and (run / ".lock").read_text().strip()) and time.time() < deadline:
            time.sleep(0.2)
        code, _, err = _cli("train", "--data", "synthetic", "--out", run, "--steps", "5", "--resume", cwd=open_dir)
        assert code == 2
        _one_line_error(err, f"another process (pid {first.pid}) is training into {run}")
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
    assert "interrupted" in first.stderr.read()


# 4. No awkward entry stops a whole dataset ------------------------------------------------------------------------

def test_awkward_entries_are_read_skipped_or_counted(tmp_path, capsys):
    root = _faces(tmp_path / "faces", 4)
    with open(bytes(root) + b"/caf\xe9-latin1.png", "wb") as f:  # a name in Latin-1, not UTF-8
        Image.new("RGB", (40, 40), (10, 200, 10)).save(f, "PNG")
    elsewhere = _faces(tmp_path / "elsewhere" / "more", 3)
    (root / "linked").symlink_to(elsewhere)  # a symlinked subfolder is followed
    (elsewhere / "loop").symlink_to(elsewhere)  # ... once, even when it links back to itself
    (root / ".hidden.png").write_bytes((root / "0000.png").read_bytes())
    (root / "._0000.png").write_bytes(b"macOS resource fork")
    _faces(root / "__MACOSX", 2)
    Image.new("RGB", (1, 1)).save(root / "one-pixel.png")
    Image.new("RGB", (400, 20)).save(root / "banner.png")
    Image.new("L", (9500, 9500)).save(root / "bomb.png")  # 90 megapixels: Pillow's decompression-bomb limit
    prepared = prepare_folder(root, 32, workers=2)
    assert len(prepared) == 4 + 1 + 3
    assert sorted(p for p in prepared.summary["paths"] if p.startswith("linked/")) == [
        "linked/0000.png", "linked/0001.png", "linked/0002.png"]  # the loop back is walked once
    skipped = prepared.summary["skipped"]
    assert skipped["too large (a decompression bomb)"] == ["bomb.png"]
    assert skipped[f"too small (under {images.MIN_SIDE} px)"] == ["one-pixel.png"]
    assert skipped[f"a strip (over {images.MAX_ASPECT:.0f}:1)"] == ["banner.png"]
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("prepared 8 images from") and "skipped 3: " in line and "UserWarning" not in line
    assert os.fsdecode(b"caf\xe9-latin1.png") in prepared.keys
    assert printable(os.fsdecode(b"caf\xe9-latin1.png")) == "caf\ufffd-latin1.png"


def test_an_unreadable_subfolder_is_counted_not_fatal(tmp_path, capsys, monkeypatch):
    """Root reads every folder, so the folder is made unreadable where it is listed: os.scandir refuses it."""
    root = _faces(tmp_path / "faces", 3)
    private = _faces(root / "private", 2)
    listing = os.scandir

    def scandir(path):
        if Path(path) == private:
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(images.os, "scandir", scandir)
    assert main(["prepare", "--data", str(root), "--image-size", "32"]) == 0
    assert "3 images prepared at 32 px; skipped 1: 1 unreadable folder (e.g. private)" in capsys.readouterr().out


def test_sixteen_bit_greyscale_and_exif_rotation_are_read_right(tmp_path):
    root = tmp_path / "faces"
    root.mkdir()
    grey = np.full((40, 40), 32768, dtype=np.uint16)  # mid grey in 16 bits
    Image.fromarray(grey).save(root / "a-16-bit.png")
    upright = Image.new("RGB", (60, 40), (255, 255, 255))
    upright.paste((0, 0, 0), (0, 0, 60, 20))  # black top half when shown upright
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: a viewer turns it 90 degrees clockwise
    upright.rotate(90, expand=True).save(root / "b-rotated.jpg", "JPEG", exif=exif, quality=95)
    prepared = prepare_folder(root, 32, workers=1)
    assert abs(int(prepared.images[0, 0, 16, 16]) - 128) <= 1
    rotated = prepared.images[1].float().mean(0)
    assert rotated[:16].mean() < 60 and rotated[16:].mean() > 200  # black on top, as a viewer shows it


# 5. Numbers that make no sense ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "--steps must be from 1 to 1,000,000,000"),
    (["--steps", "-1"], "--steps must be from 1 to 1,000,000,000"),
    (["--epochs", "nan"], "--epochs must be a positive number"),
    (["--epochs", "inf"], "--epochs must be a positive number"),
    (["--epochs", "0"], "--epochs must be a positive number"),
    (["--lr-g", "0"], "lr_g must be a learning rate"),
    (["--lr-d", "nan"], "lr_d must be a learning rate"),
    (["--lr-g", "5"], "lr_g must be a learning rate"),
    (["--beta1", "1.5"], "beta1 must be in [0, 1)"),
    (["--device", "gpu"], "unknown device 'gpu'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--device", "mps"], "--device mps was asked for"),
    (["--synthetic-count", "8"], "--synthetic-count 8 is below the batch size 16"),
    (["--holdout", "1"], "--holdout must be at least 2"),
])
def test_numbers_that_make_no_sense_are_refused_in_one_line(tmp_path, capsys, args, message):
    argv = ["train", "--data", "synthetic", *TINY, "--out", str(tmp_path / "run")]
    assert main([*argv, *(["--steps", "2"] if "--steps" not in args and "--epochs" not in args else []), *args]) == 2
    _one_line_error(capsys.readouterr().err, message)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_generate_and_resume_say_what_is_wrong(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "synthetic", *TINY, "--out", str(run), "--steps", "2"]) == 0
    checkpoint = str(run / "checkpoint.pt")
    for args, message in ((["--scale", "0"], "--scale must be at least 1"),
                          (["--out", str(tmp_path / "faces")], "is not an image file name")):
        assert main(["generate", "--checkpoint", checkpoint, "--out", str(tmp_path / "g.png"), *args]) == 2
        _one_line_error(capsys.readouterr().err, message)
    assert main(["train", "--data", "synthetic", "--out", str(run), "--steps", "2", "--resume", "--quiet"]) == 0
    assert "nothing to train: the run in" in capsys.readouterr().err
    assert main(["train", "--data", "synthetic", "--synthetic-count", "96", "--out", str(run), "--steps", "3",
                 "--resume", "--quiet"]) == 0
    assert "warning: this run trained on synthetic faces (seed 0) (64 images) and goes on with" in \
        capsys.readouterr().err


def test_generate_names_the_users_file_and_the_fix_when_it_cannot_write_it(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "synthetic", *TINY, "--out", str(run), "--steps", "1"]) == 0
    generate = ["generate", "--checkpoint", str(run / "checkpoint.pt"), "--n", "4", "--out"]
    capsys.readouterr()
    with unwritable(tmp_path / "read-only") as read_only:
        assert main([*generate, str(read_only / "faces.png")]) == 2
        err = capsys.readouterr().err
        _one_line_error(err, f"could not write {read_only / 'faces.png'}", "choose a writable folder")
        assert ".tmp" not in err
    longest = tmp_path / ("f" * 251 + ".png")  # 255 bytes: the longest name most filesystems allow
    assert main([*generate, str(longest)]) == 0 and longest.read_bytes().startswith(b"\x89PNG")
    too_long = tmp_path / ("f" * 252 + ".png")
    assert main([*generate, str(too_long)]) == 2
    _one_line_error(capsys.readouterr().err, f"cannot write --out {too_long}", "choose a shorter name")
    assert not list(tmp_path.glob(".*.tmp"))


# 6. Divergence keeps a truly good checkpoint ----------------------------------------------------------------------

def test_nan_weights_never_replace_the_last_good_checkpoint(tmp_path, tiny_cfg, tiny_data):
    fresh = TrainingRun(tiny_cfg, tiny_data, tmp_path / "fresh", device="cpu")
    next(fresh.G.parameters()).data.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="no checkpoint was written yet"):
        fresh.save_checkpoint()
    trainer = TrainingRun(tiny_cfg, tiny_data, tmp_path / "run", device="cpu")
    trainer.fit(4, progress=False)
    next(trainer.G.parameters()).data[0] = float("inf")
    trainer.step = 8
    with pytest.raises(TrainingDiverged, match=f"the last good checkpoint, {tmp_path / 'run' / 'checkpoint.pt'}"):
        trainer.save_checkpoint()
    state = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state.step == 4 and all(torch.isfinite(w).all() for w in state.generator.values())


# 7. Interrupts read cleanly ---------------------------------------------------------------------------------------

def _interrupt_when(popen, ready) -> str:
    deadline = time.time() + 120
    while not ready() and time.time() < deadline and popen.poll() is None:
        time.sleep(0.05)
    popen.send_signal(signal.SIGINT)
    popen.wait(timeout=120)
    return popen.stderr.read()


def test_ctrl_c_during_prepare_leaves_no_worker_and_no_temporary(open_dir):
    faces = _faces(open_dir / "faces", 3000, size=96)
    cache = open_dir / "cache"
    popen = _cli("prepare", "--data", faces, "--image-size", "64", cwd=open_dir, env={"GAN_LIB_CACHE": cache},
                 wait=False)
    err = _interrupt_when(popen, lambda: cache.is_dir() and any(cache.glob(".*.tmp")))
    assert popen.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == ("interrupted: the cache was not written and nothing else was changed; "
                                            "run prepare again")
    time.sleep(1)
    assert not list(cache.iterdir())
    survivors = []
    for proc in Path("/proc").iterdir():
        try:
            if str(faces).encode() in (proc / "cmdline").read_bytes():
                survivors.append(proc.name)
        except OSError:
            continue
    assert not survivors  # no decoding worker outlives the command


def test_ctrl_c_during_training_names_what_is_kept(open_dir):
    run = open_dir / "run"
    common = ["train", "--data", "synthetic", "--synthetic-count", "256", "--image-size", "32", "--out", run,
              "--quiet", "--steps", "100000"]
    popen = _cli(*common, cwd=open_dir, wait=False, env={"GAN_LIB_CACHE": open_dir / "cache"})
    err = _interrupt_when(popen, lambda: (run / ".lock").exists())
    assert err.strip().splitlines()[-1].startswith("interrupted before the first checkpoint: nothing to resume")
    assert not run.exists()  # it held nothing but the lock: tidied away
    popen = _cli(*common, "--checkpoint-every", "2", cwd=open_dir, wait=False)
    err = _interrupt_when(popen, lambda: (run / "checkpoint.pt").exists())
    step = read_checkpoint(run / "checkpoint.pt").step
    assert step >= 2
    assert err.strip().splitlines()[-1] == (f"interrupted: the last checkpoint, {run / 'checkpoint.pt'}, is kept "
                                            f"(step {step}); continue with --resume")
    assert not list(run.glob(".*.tmp"))


SMALL_RUN = ["train", "--data", "synthetic", "--synthetic-count", "256", "--image-size", "32", "--g-width", "8",
             "--d-width", "8", "--batch-size", "16", "--quiet", "--sample-every", "1", "--checkpoint-every", "100000"]


@pytest.mark.parametrize("sig, code, how", [(signal.SIGINT, 130, "interrupted"),
                                            (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_an_interrupt_saves_the_step_it_stopped_at_and_the_resume_goes_on_exactly(open_dir, sig, code, how):
    """Ctrl-C or SIGTERM between two periodic checkpoints: the run is saved at the step it reached (never half a
    step), and resumed from there it ends bit-identical to a run never interrupted."""
    run, straight = open_dir / "run", open_dir / "straight"
    popen = _cli(*SMALL_RUN, "--out", run, "--steps", "100000", cwd=open_dir, wait=False)
    deadline = time.time() + 120
    while not (run / "samples" / "step_0000002.png").exists() and time.time() < deadline and popen.poll() is None:
        time.sleep(0.05)
    popen.send_signal(sig)
    popen.wait(timeout=120)
    err = popen.stderr.read()
    assert popen.returncode == code and "Traceback" not in err, err
    step = read_checkpoint(run / "checkpoint.pt").step
    assert step >= 2
    assert err.strip().splitlines()[-1] == (f"{how}: the last checkpoint, {run / 'checkpoint.pt'}, is kept (step "
                                            f"{step}); continue with --resume")
    assert _cli(*SMALL_RUN, "--out", run, "--steps", step + 2, "--resume", cwd=open_dir)[0] == 0
    assert _cli(*SMALL_RUN, "--out", straight, "--steps", step + 2, cwd=open_dir)[0] == 0
    resumed, whole = read_checkpoint(run / "checkpoint.pt"), read_checkpoint(straight / "checkpoint.pt")
    for part in ("generator", "discriminator", "ema"):
        assert same_tensors(getattr(resumed, part), getattr(whole, part)), part
    assert resumed.history == whole.history


def test_sigterm_while_the_command_starts_is_one_line(open_dir):
    popen = _cli(*SMALL_RUN, "--out", open_dir / "run", "--steps", "2", cwd=open_dir, wait=False)
    time.sleep(0.3)  # torch is still loading
    popen.send_signal(signal.SIGTERM)
    popen.wait(timeout=120)
    assert popen.returncode == 143
    assert popen.stderr.read().strip() == "stopped by SIGTERM while starting: nothing was done or written"
    assert not (open_dir / "run").exists()
