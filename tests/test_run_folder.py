"""One way to open a run, for the CLI and the notebooks alike: the lock, never over a checkpoint it did not start from,
the folder checked, the resume rule, reports completed, nothing left by a refused command; with real processes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gan_lib.data import synthetic_set
from gan_lib.runs.checkpoint import read_checkpoint
from gan_lib.runs.cli import main
from gan_lib.runs.run_folder import TrainingRun, start_or_resume
from gan_lib.support.errors import GanLibError
from gan_lib.support.files import file_stamp

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--data", "synthetic", "--synthetic-count", "64", "--image-size", "32", "--g-width", "8", "--d-width", "8",
        "--batch-size", "16", "--quiet", "--device", "cpu"]


def _cli(*args, wait=True, **kwargs):
    command = [sys.executable, "-m", "gan_lib", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    popen = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    if not wait:
        return popen
    out, err = popen.communicate(timeout=300)
    return popen.returncode, out, err


def _cfg():
    from gan_lib.config import Config

    return Config(image_size=32, g_width=8, d_width=8, batch_size=16, log_every=2, sample_every=2,
                  checkpoint_every=2)


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def test_a_notebook_cannot_open_a_run_that_the_command_line_is_training(tmp_path):
    run = tmp_path / "run"
    training = _cli("train", *TINY, "--out", run, "--steps", "100000", wait=False)
    try:
        deadline = time.time() + 120
        while not (run / "checkpoint.pt").exists() and time.time() < deadline:
            time.sleep(0.1)
        with pytest.raises(GanLibError, match=f"another process \\(pid {training.pid}\\) is training into"):
            start_or_resume(_cfg(), synthetic_set(32, 64), run)
    finally:
        training.send_signal(signal.SIGINT)
        training.wait(timeout=60)


def test_a_trainer_never_writes_over_a_checkpoint_that_another_process_trained_further(tmp_path):
    run, data = tmp_path / "run", synthetic_set(32, 64)
    assert _cli("train", *TINY, "--out", run, "--steps", "2", "--checkpoint-every", "2")[0] == 0
    cfg = TrainingRun.resume(run / "checkpoint.pt", data).cfg
    notebook = start_or_resume(cfg, data, run)  # a notebook opens the run at step 2 ...
    assert _cli("train", *TINY, "--out", run, "--steps", "6", "--resume")[0] == 0  # ... the CLI trains it to 6
    newer = (run / "checkpoint.pt").read_bytes()
    with pytest.raises(GanLibError, match="is not the checkpoint this trainer started from.*nothing was written"):
        notebook.fit(4, progress=False)
    with pytest.raises(GanLibError, match="is not the checkpoint this trainer started from"):
        notebook.save_checkpoint()
    assert (run / "checkpoint.pt").read_bytes() == newer and notebook.step == 2
    assert start_or_resume(cfg, data, run).step == 6  # opened again, it goes on from the newer one


def test_a_new_trainer_in_a_folder_with_a_checkpoint_keeps_that_checkpoint(tmp_path):
    data = synthetic_set(32, 64)
    start_or_resume(_cfg(), data, tmp_path).fit(2, progress=False)
    earlier = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(GanLibError, match="is not the checkpoint this trainer started from"):
        TrainingRun(_cfg(), data, tmp_path).fit(2, progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == earlier
    resumed = TrainingRun.resume(tmp_path / "checkpoint.pt", data, tmp_path)  # its own checkpoint: it may go on
    resumed.fit(4, progress=False)
    assert read_checkpoint(tmp_path / "checkpoint.pt").step == 4
    assert file_stamp(tmp_path / "checkpoint.pt") == resumed._checkpoint_stamp


def test_the_notebooks_refuse_a_run_folder_inside_the_data_folder(tmp_path):
    from PIL import Image

    from gan_lib.data import load_images

    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(40):
        Image.new("RGB", (40, 40), (i * 5, 100, 200 - i)).save(faces / f"{i}.png")
    data = load_images(str(faces), 32)
    with pytest.raises(GanLibError, match="inside the data folder .* sample grids would become training images"):
        start_or_resume(_cfg(), data, faces / "runs" / "course")
    assert not (faces / "runs").exists()


def test_a_refused_command_leaves_no_run_folder_and_no_lock(tmp_path, capsys):
    run = tmp_path / "new-run"
    assert main(["train", "--data", str(tmp_path / "no-such-faces"), "--out", str(run), "--quiet"]) == 2
    assert "no folder at" in capsys.readouterr().err
    assert not run.exists()
    run.mkdir()  # the user's own empty folder stays, without a lock in it
    assert main(["train", *TINY, "--out", str(run), "--epochs", "0.001"]) == 2
    assert "--epochs 0.001 is less than one step (an epoch is 4 steps): give --epochs 0.25 or more" in \
        capsys.readouterr().err
    assert run.is_dir() and not list(run.iterdir())


def test_a_finished_run_leaves_no_lock(tmp_path):
    TrainingRun(_cfg(), synthetic_set(32, 64), tmp_path / "notebook").fit(2, progress=False)
    assert main(["train", *TINY, "--out", str(tmp_path / "cli"), "--steps", "2"]) == 0
    for run in (tmp_path / "notebook", tmp_path / "cli"):
        assert (run / "checkpoint.pt").is_file() and not os.path.lexists(run / ".lock")


def test_a_lock_that_is_a_link_is_refused_and_nothing_is_written_through_it(tmp_path, capsys):
    someones = tmp_path / "someones-file"
    someones.write_text("not a lock")
    live, dangling = tmp_path / "unpacked", tmp_path / "shared"
    for run, target in ((live, someones), (dangling, tmp_path / "elsewhere" / "lock")):
        run.mkdir()
        (run / ".lock").symlink_to(target)
    (tmp_path / "elsewhere").mkdir()
    assert main(["train", *TINY, "--out", str(live), "--steps", "2"]) == 2
    assert f"{live / '.lock'} is a symbolic link: remove it" in _one_line(capsys.readouterr().err)
    with pytest.raises(GanLibError, match="shared/.lock is a symbolic link: remove it"):
        TrainingRun(_cfg(), synthetic_set(32, 64), dangling).fit(2, progress=False)
    assert someones.read_text() == "not a lock" and not list((tmp_path / "elsewhere").iterdir())
    assert [p.name for p in live.iterdir()] == [p.name for p in dangling.iterdir()] == [".lock"]


def test_a_samples_folder_or_a_checkpoint_that_links_out_of_the_run_is_refused(tmp_path, capsys):
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # a pid no process can have
    (outside / f".step_0000002.png.{dead}.0123abcd.tmp").write_bytes(b"not the run's")
    (run / "samples").symlink_to(outside)
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 2
    assert f"{run / 'samples'} is a symbolic link: remove it" in _one_line(capsys.readouterr().err)
    assert [p.name for p in outside.iterdir()] == [f".step_0000002.png.{dead}.0123abcd.tmp"]  # nothing in, nothing out

    (run / "samples").unlink()
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    kept = tmp_path / "kept.pt"
    (run / "checkpoint.pt").rename(kept)
    (run / "checkpoint.pt").symlink_to(kept)
    before = kept.read_bytes()
    capsys.readouterr()
    assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume"]) == 2
    assert f"{run / 'checkpoint.pt'} is a symbolic link: remove it" in _one_line(capsys.readouterr().err)
    assert kept.read_bytes() == before and (run / "checkpoint.pt").is_symlink()


def test_resume_completes_a_finished_run_whose_reports_were_not_written(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "4"]) == 0
    for report in ("losses.png", "progress.gif"):  # killed while they were written, after the last checkpoint
        (run / report).unlink()
    capsys.readouterr()
    assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume"]) == 0
    assert "already at step 4 (asked for 4); wrote its missing losses.png, progress.gif" in capsys.readouterr().err
    assert (run / "losses.png").stat().st_size and (run / "progress.gif").stat().st_size
    assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume"]) == 0
    assert "wrote its missing" not in capsys.readouterr().err  # complete: nothing to do


def test_the_advice_after_a_divergence_fits_the_loss_and_can_be_followed(tmp_path, capsys, monkeypatch):
    from gan_lib import losses
    for loss, other in (("bce", "--label-smoothing 0.2"), ("hinge", "--spectral-norm"),
                        ("wgan-gp", "--beta1 0 --beta2 0.9 --d-steps 5")):
        run = tmp_path / loss
        assert main(["train", *TINY, "--out", str(run), "--steps", "2", "--loss", loss]) == 0
        with monkeypatch.context() as patched:  # D's loss becomes NaN at the next step
            rule = {"bce": losses.NonSaturatingGAN, "hinge": losses.Hinge, "wgan-gp": losses.WassersteinGP}[loss]
            patched.setattr(rule, "discriminator", lambda self, real, fake: real.mean() * float("nan"))
            capsys.readouterr()
            assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume"]) == 2
        err = _one_line(capsys.readouterr().err)
        assert "the loss became NaN or infinite at step 3" in err and other in err, err
        assert ("label smoothing" in err) == (loss == "bce"), err
        advised = err.split("train --resume ")[1].split(";")[0].split()  # --lr-g 0.0001 --lr-d 0.0001
        assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume", *advised]) == 0
        assert "resuming with lr_g 0.0002 -> 0.0001, lr_d 0.0002 -> 0.0001" in capsys.readouterr().err
        assert read_checkpoint(run / "checkpoint.pt").config.lr_d == 1e-4


def test_an_option_the_loss_does_not_use_is_refused_not_ignored(tmp_path, capsys):
    for loss, option in (("hinge", ["--label-smoothing", "0.2"]), ("wgan-gp", ["--fake-label", "0.1"]),
                         ("bce", ["--gp-weight", "5"])):
        assert main(["train", *TINY, "--out", str(tmp_path / loss), "--loss", loss, *option]) == 2
        err = _one_line(capsys.readouterr().err)
        name = option[0].removeprefix("--").replace("-", "_")
        assert f"{name} {option[1]} applies to loss" in err and f"trains with loss {loss}: drop it ({option[0]})" in err
        assert not (tmp_path / loss).exists()
    capsys.readouterr()  # and so is a recipe's
    recipe = ["--recipe", "clinic+fake-smoothed", "--loss", "hinge"]
    assert main(["train", *TINY, "--out", str(tmp_path / "r"), *recipe]) == 2
    assert "fake_label 0.1 applies to loss bce only" in _one_line(capsys.readouterr().err)


def test_quality_benchmark_keeps_an_earlier_run_unless_told_to_replace_it(tmp_path):
    from PIL import Image

    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(80):
        Image.new("RGB", (40, 40), (i * 3, 100, 250 - i * 3)).save(faces / f"{i}.png")
    command = [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--data", str(faces), "--steps", "2",
               "--width", "8", "--n", "10", "--recipes", "dcgan", "--out", str(tmp_path / "q"), "--curve-every", "1",
               "--diagnose"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GAN_LIB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "dcgan step 1" in first.stdout and "raw G, batch stats" in first.stdout  # --diagnose on a recipe without EMA
    earlier = (tmp_path / "q" / "dcgan" / "checkpoint.pt").read_bytes()
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 2 and "holds an earlier run: pass --overwrite" in _one_line(again.stderr)
    assert (tmp_path / "q" / "dcgan" / "checkpoint.pt").read_bytes() == earlier
    replaced = subprocess.run([*command, "--overwrite"], capture_output=True, text=True, env=env, timeout=300)
    assert replaced.returncode == 0, replaced.stderr


def test_dead_temporaries_in_the_samples_folder_are_cleaned_when_the_run_is_opened(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # a pid no process can have
    leftover = run / "samples" / f".step_0000004.png.{dead}.0123abcd.tmp"
    mine = run / "samples" / ".notes.1.tmp"  # not a name atomic_path makes: a user's, kept
    leftover.write_bytes(b"half a png")
    mine.write_text("mine")
    assert main(["train", *TINY, "--out", str(run), "--steps", "4", "--resume"]) == 0
    assert not leftover.exists() and mine.read_text() == "mine"


def test_generate_replaces_an_existing_image_only_when_told(tmp_path, capsys):
    run, faces = tmp_path / "run", tmp_path / "faces.png"
    assert main(["train", *TINY, "--out", str(run), "--steps", "1"]) == 0
    faces.write_bytes(b"the user's own picture")
    command = ["generate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(faces), "--n", "4"]
    assert main(command) == 2
    assert f"--out {faces} exists: pass --overwrite to replace it" in capsys.readouterr().err
    assert faces.read_bytes() == b"the user's own picture"
    assert main([*command, "--overwrite"]) == 0 and faces.read_bytes().startswith(b"\x89PNG")


def test_a_lock_that_is_a_hard_link_to_a_file_outside_is_refused_and_the_file_kept(tmp_path, capsys):
    from gan_lib.runs.cli import main

    outside = tmp_path / "precious.txt"
    outside.write_text("precious")
    (tmp_path / "run").mkdir()
    os.link(outside, tmp_path / "run" / ".lock")
    tiny = ["train", "--data", "synthetic", "--synthetic-count", "64", "--g-width", "8", "--d-width", "8",
            "--batch-size", "16", "--steps", "2", "--quiet", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main(tiny) == 2
    assert "is not a lock file of its own (a hard link or not a plain file): remove it" in capsys.readouterr().err
    assert outside.read_text() == "precious"


def test_reports_a_refusal_left_behind_are_written_when_the_run_is_opened_again(tmp_path, capsys):
    """A history.csv link refused after the checkpoint was saved: once the link is gone, --resume of the finished
    run writes the history and the figures that were left out of date."""
    from gan_lib.runs.checkpoint import read_checkpoint
    from gan_lib.runs.cli import main

    tiny = ["train", "--data", "synthetic", "--synthetic-count", "64", "--g-width", "8", "--d-width", "8",
            "--batch-size", "16", "--quiet", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main([*tiny, "--steps", "2"]) == 0
    (tmp_path / "run" / "history.csv").unlink()
    (tmp_path / "run" / "history.csv").symlink_to(tmp_path / "elsewhere.csv")
    assert main([*tiny, "--steps", "4", "--resume"]) == 2
    assert read_checkpoint(tmp_path / "run" / "checkpoint.pt").step == 4 and not (tmp_path / "elsewhere.csv").exists()
    (tmp_path / "run" / "history.csv").unlink()
    capsys.readouterr()
    assert main([*tiny, "--steps", "4", "--resume"]) == 0
    assert "wrote its missing history.csv, losses.png, progress.gif" in capsys.readouterr().err
    rows = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert rows[-1].startswith("4,") and len(rows) == 5


def test_a_folder_called_synthetic_is_a_folder_not_the_built_in_faces(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from gan_lib.runs.checkpoint import read_checkpoint
    from gan_lib.runs.cli import main

    (tmp_path / "synthetic").mkdir()
    for i in range(24):
        Image.new("RGB", (40, 40), (10 * i, 0, 0)).save(tmp_path / "synthetic" / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "./synthetic", "--g-width", "8", "--d-width", "8", "--batch-size", "8",
                 "--image-size", "32", "--steps", "1", "--quiet", "--device", "cpu", "--out", "run"]) == 0
    assert read_checkpoint(tmp_path / "run" / "checkpoint.pt").data["name"] == os.path.join(".", "synthetic")
    assert "training on 24 images from ./synthetic" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", "run/checkpoint.pt", "--metric", "modes", "--n", "8"]) == 2
    assert "--metric modes reads faces with a classifier of the synthetic faces" in capsys.readouterr().err
