"""Every remaining class of mistake ends in one line that names the problem and the fix, never a traceback: a full
disk, odd checkpoints, settings, --compile without a compiler, the benchmarks' options, Ctrl-C while torch loads,
and a GanLibError in a notebook cell. With real files and processes."""

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from gan_lib.runs.checkpoint import read_checkpoint
from gan_lib.runs.cli import main
from gan_lib.support.errors import GanLibError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--data", "synthetic", "--synthetic-count", "64", "--image-size", "32", "--g-width", "8", "--d-width", "8",
        "--batch-size", "16", "--quiet", "--device", "cpu"]


def _run(*command, env=None, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, *map(str, command)], capture_output=True, text=True, env=env, timeout=300,
                          **kwargs)


def _one_line(result, *fragments, code=2) -> str:
    assert result.returncode == code and "Traceback" not in result.stderr, (result.returncode, result.stderr)
    line = result.stderr.strip().splitlines()[-1]
    assert all(f in line for f in fragments), (fragments, result.stderr)
    return line


@contextmanager
def full_disk(folder: Path, size: str = "400k"):
    """A real file system of `size` (tmpfs, mounted as root, as CI runs): writes beyond it fail with ENOSPC, as on
    a full disk, wherever in a write they happen (torch.save's C++ writer included)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip(f"a small file system can only be mounted as root: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_while_training_is_one_line_and_keeps_the_last_checkpoint(tmp_path):
    with full_disk(tmp_path / "small") as small:  # room for a sample grid (160 kB), not for a checkpoint (1.2 MB)
        result = _run("-m", "gan_lib", "train", *TINY, "--out", small / "run", "--steps", "2")
        _one_line(result, f"could not write {small / 'run' / 'checkpoint.pt'} (the write failed: is the disk full?)")
        assert not list(small.rglob(".*.tmp"))
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    before = (run / "checkpoint.pt").read_bytes()
    used = sum(f.stat().st_size for f in run.rglob("*") if f.is_file())
    with full_disk(tmp_path / "small2", size=f"{used // 1024 + 400}k") as small:  # not room for a second checkpoint
        shutil.copytree(run, small / "run")
        result = _run("-m", "gan_lib", "train", *TINY, "--out", small / "run", "--steps", "4", "--resume",
                      "--checkpoint-every", "1", "--sample-every", "1000")
        _one_line(result, f"could not write {small / 'run' / 'checkpoint.pt'}", "any earlier version of it is kept")
        assert (small / "run" / "checkpoint.pt").read_bytes() == before  # the earlier checkpoint, whole
        assert not list((small / "run").rglob(".*.tmp"))


def test_a_directions_file_on_a_full_disk_is_one_line(tmp_path):
    from gan_lib.measure.directions import Directions

    with full_disk(tmp_path / "small", size="64k") as small:
        big = Directions(torch.randn(200, 100), [f"d{i}" for i in range(200)])
        with pytest.raises(GanLibError, match="could not write .*names.pt .*any earlier version of it is kept"):
            big.save(small / "names.pt")
        assert not list(small.iterdir())


@pytest.mark.parametrize("edit, says", [
    (lambda s: s.pop("opt_g"), "cannot be resumed: its entry 'opt_g' is missing or does not fit this run"),
    (lambda s: s["generator"].update({"extra.weight": torch.zeros(1)}), "cannot be resumed: its Generator weights"),
    (lambda s: s["opt_d"].update({"state": {0: {"step": torch.tensor(1.0)}}, "param_groups": []}),
     "cannot be resumed: its optimiser state"),
    (lambda s: s.update({"format": 2}), "was written by a newer gan_lib (checkpoint format 2; this one reads format "
                                        "1): update gan_lib"),
    (lambda s: s.update(opt_g="garbage"), "cannot be resumed: its content is missing or does not fit this run"),
    (lambda s: s.update(opt_g=None), "cannot be resumed: its content is missing or does not fit this run"),
    (lambda s: s["opt_d"]["state"][0].update(exp_avg=torch.zeros(1)),  # would fail in the middle of training
     "cannot be resumed: its optimiser state is missing or does not fit this run"),
])
def test_an_odd_checkpoint_is_one_line_on_resume(tmp_path, edit, says, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, run / "checkpoint.pt")
    capsys.readouterr()
    assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


EDITS = {  # an adversary's edits to a checkpoint's record: each a damaged checkpoint for generate, evaluate and resume
    "an augment that is a number": lambda s: s["config"].update(augment=3),
    "classes that are a number": lambda s: s["config"].update(classes=5),
    "a learning rate that is text": lambda s: s["config"].update(lr_g="0.1"),
    "an image size that is text": lambda s: s["config"].update(image_size="32"),
    "a data record that is a list": lambda s: s.update(data=[1, 2]),
    "a count of files that is text": lambda s: s["data"].update(files="lots"),
    "a step that is text": lambda s: s.update(step="5"),
    "a negative step": lambda s: s.update(step=-3),
    "fixed noise that is text": lambda s: s.update(fixed_noise="x"),
    "fixed noise of another latent size": lambda s: s.update(fixed_noise=s["fixed_noise"][:, :10]),
    "fixed noise of integers": lambda s: s.update(fixed_noise=s["fixed_noise"].long()),
    "NaN fixed noise": lambda s: s["fixed_noise"][3].fill_(float("nan")),
    "a history of other rows": lambda s: s.update(history=[{"zzz": 1}]),
    "NaN EMA weights": lambda s: [v.fill_(float("nan")) for v in s["ema"].values() if v.is_floating_point()],
    "a loss scale that is text": lambda s: s.update(scaler={"scale": "big", "growth_factor": 2.0}),
}


def test_fixed_noise_saved_in_another_float_type_resumes_in_the_runs_own(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["fixed_noise"] = state["fixed_noise"].double()
    torch.save(state, run / "checkpoint.pt")
    assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume"]) == 0, capsys.readouterr().err
    assert read_checkpoint(run / "checkpoint.pt").state["fixed_noise"].dtype == torch.float32


def test_a_checkpoint_with_an_edited_record_is_one_line_for_every_command(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    for number, (what, edit) in enumerate(EDITS.items()):
        state = torch.load(run / "checkpoint.pt", weights_only=True)
        edit(state)
        edited = tmp_path / f"edited{number}"
        edited.mkdir()
        torch.save(state, edited / "checkpoint.pt")
        before = (edited / "checkpoint.pt").read_bytes()
        for command in (["generate", "--checkpoint", str(edited / "checkpoint.pt"), "--out", str(tmp_path / "g.png")],
                        ["evaluate", "--checkpoint", str(edited / "checkpoint.pt"), "--n", "8"],
                        ["train", *TINY, "--out", str(edited), "--steps", "3", "--resume"]):
            capsys.readouterr()
            assert main(command) == 2, (what, command[0])
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "is a damaged gan_lib checkpoint (" in err, (what, err)
        assert (edited / "checkpoint.pt").read_bytes() == before and not (tmp_path / "g.png").exists()


def test_a_huge_epochs_and_a_folder_for_an_image_are_one_line(tmp_path, capsys):
    assert main(["train", *TINY, "--out", str(tmp_path / "run"), "--epochs", "1e308"]) == 2
    assert "--epochs 1e+308 makes more than 1,000,000,000 steps" in capsys.readouterr().err
    assert main(["train", *TINY, "--out", str(tmp_path / "run"), "--steps", "1"]) == 0
    (tmp_path / "faces.png").mkdir()
    assert main(["generate", "--checkpoint", str(tmp_path / "run" / "checkpoint.pt"), "--out",
                 str(tmp_path / "faces.png"), "--overwrite"]) == 2
    assert "is a folder: name an image file" in capsys.readouterr().err


def test_a_checkpoint_of_weights_only_still_generates(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    state = read_checkpoint(run / "checkpoint.pt").state
    for key in ("opt_g", "opt_d"):
        state.pop(key)
    torch.save(state, run / "weights.pt")
    assert main(["generate", "--checkpoint", str(run / "weights.pt"), "--out", str(tmp_path / "f.png")]) == 0


@pytest.mark.parametrize("name, value, says", [
    ("GAN_LIB_STEPS", "²", "GAN_LIB_STEPS must be a whole number of training steps from 1 to 1,000,000,000, got '²'"),
    ("GAN_LIB_STEPS", "", "GAN_LIB_STEPS must be a whole number"),
    ("GAN_LIB_STEPS", "٣", "GAN_LIB_STEPS must be a whole number of training steps from 1 to 1,000,000,000, got '٣'"),
    ("GAN_LIB_STEPS", "1_000", "GAN_LIB_STEPS must be a whole number"),
    ("GAN_LIB_STEPS", "9" * 5000, "GAN_LIB_STEPS must be a whole number"),  # past int()'s 4,300 digits
    ("GAN_LIB_PEER_TIMEOUT", "٦٠", "GAN_LIB_PEER_TIMEOUT must be a whole number of seconds"),
    ("GAN_LIB_DATA", "", "GAN_LIB_DATA is set but empty, which would mean the current folder"),
    ("GAN_LIB_RUN_DIR", " ", "GAN_LIB_RUN_DIR is set but empty"),
    ("GAN_LIB_CACHE", "", "GAN_LIB_CACHE is set but empty"),
    ("GAN_LIB_PEER_TIMEOUT", "1e3", "GAN_LIB_PEER_TIMEOUT must be a whole number of seconds from 1 to 86,400"),
    ("GAN_LIB_TINY", "maybe", "GAN_LIB_TINY='maybe' is neither on nor off"),
    ("GAN_LIB_DRIVE", "perhaps", "GAN_LIB_DRIVE='perhaps' is neither on nor off"),
    ("GAN_LIB_RUN_DIR", "", "GAN_LIB_RUN_DIR is set but empty"),
])
def test_every_setting_is_read_by_one_function_that_names_it(monkeypatch, name, value, says):
    from gan_lib.course import settings as course
    from gan_lib.support import files, runtime

    for other in ("GAN_LIB_TINY", "GAN_LIB_STEPS", "GAN_LIB_DATA", "GAN_LIB_RUN_DIR"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setattr(course, "device_kind", lambda: "cpu")
    monkeypatch.setenv(name, value)
    with pytest.raises(GanLibError) as raised:
        assert course.course_settings().run_dir and files.cache_dir()
        runtime.peer_timeout()
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_a_setting_from_the_environment_is_one_line_on_the_command_line(tmp_path):
    from PIL import Image

    (tmp_path / "faces").mkdir()
    for i in range(4):
        Image.new("RGB", (40, 40), (60 * i, 0, 0)).save(tmp_path / "faces" / f"{i}.png")
    result = _run("-m", "gan_lib", "prepare", "--data", tmp_path / "faces", env={"GAN_LIB_CACHE": ""})
    _one_line(result, "error: GAN_LIB_CACHE is set but empty")


def test_compile_without_a_compiler_says_what_to_install(tmp_path):
    bare = tmp_path / "bin"  # a PATH with no compiler on it
    bare.mkdir()
    env = {"PATH": str(bare), "CXX": "no-such-compiler"}
    result = _run("-m", "gan_lib", "train", *TINY, "--out", tmp_path / "run", "--steps", "1", "--compile", env=env)
    _one_line(result, "compile needs a C++ compiler", "install one (Debian: apt-get install g++", "without --compile")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("script, args, says", [
    ("quality.py", ["--recipes", "dcgan,nonsense"], "unknown recipe 'nonsense'"),
    ("quality.py", ["--steps", "0"], "argument --steps: '0' must be at least 1"),
    ("quality.py", ["--n", "abc"], "argument --n: 'abc' is not an integer"),
    ("quality.py", ["--minutes", "nan"], "argument --minutes: 'nan' must be at least 0.01"),
    ("quality.py", ["--plot", "x.png"], "--plot draws the learning curves of --curve-every"),
    ("quality.py", ["--image-size", "48", "--steps", "1"], "image size 48 is not supported"),
    ("quality.py", ["--data", "no-such-folder"], "no folder at no-such-folder"),
    ("throughput.py", ["--batch-size", "0"], "argument --batch-size: '0' must be at least 1"),
    ("throughput.py", ["--workers", "-1"], "argument --workers: '-1' must be at least 0"),
    ("conditional.py", ["--every", "0"], "argument --every: '0' must be at least 1"),
    ("ema_batchnorm.py", ["no-such-checkpoint.pt"], "no checkpoint at no-such-checkpoint.pt"),
    ("plot_curves.py", ["no-such.log", "--floor", "1", "--out", "x.png"], "no-such.log"),
    ("prepare.py", ["no-such-folder"], "no-such-folder"),
    ("compare_trainer.py", ["--ref", "HEAD", "--blocks", "0"], "argument --blocks: '0' must be at least 1"),
])
def test_a_bad_input_to_a_benchmark_is_one_line(tmp_path, script, args, says):
    result = _run(ROOT / "benchmarks" / script, *args, cwd=tmp_path, env={"GAN_LIB_CACHE": str(tmp_path / "cache")})
    _one_line(result, says)


def test_ctrl_c_while_torch_is_still_loading_is_one_line(tmp_path):
    popen = subprocess.Popen([sys.executable, "-m", "gan_lib", "train", *TINY, "--out", str(tmp_path / "run")],
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    maps, deadline = Path(f"/proc/{popen.pid}/maps"), time.time() + 60
    while "libtorch" not in maps.read_text() and time.time() < deadline:  # torch's libraries are being loaded
        time.sleep(0.005)
    popen.send_signal(signal.SIGINT)
    err = popen.communicate(timeout=60)[1]
    assert popen.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "interrupted while starting: nothing was done or written"
    assert not (tmp_path / "run").exists()


def test_a_gan_lib_error_in_a_notebook_cell_is_one_line_and_stops_run_all(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from gan_lib.runs.checkpoint import read_checkpoint\nread_checkpoint('missing.pt')"),
        nbformat.v4.new_code_cell("print('ran on')")])
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    error = nb.cells[0].outputs[-1]
    assert error.output_type == "error" and error.ename == "GanLibError"
    assert len(error.traceback) == 1 and "no checkpoint at missing.pt: train first" in error.traceback[0]
    assert not nb.cells[1].outputs  # the cell failed: "Run all" stopped there


def test_generate_prints_the_file_it_wrote_escaped(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "1"]) == 0
    out = tmp_path / "a\n\x1b[31mFORGED.png"
    capsys.readouterr()
    assert main(["generate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(out), "--n", "4"]) == 0
    said = capsys.readouterr().out
    assert out.exists() and said.count("\n") == 1 and "\x1b" not in said, said
