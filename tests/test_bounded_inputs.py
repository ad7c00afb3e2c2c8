"""Every number a user types has a range this machine can hold, every path option names something, and what gan_lib
writes is written whole or not at all: each a one-line error or a kept file, never a traceback."""

import os
import subprocess
import sys

import pytest
import torch

import gan_lib.measure.viz as viz
from gan_lib.config import Config
from gan_lib.runs.cli import main
from gan_lib.support.errors import GanLibError
from gan_lib.support.files import remove_dead_temporaries

TINY = ["--synthetic-count", "64", "--image-size", "32", "--g-width", "8", "--d-width", "8", "--batch-size", "16",
        "--quiet"]


def _error_line(capsys, *args) -> str:
    code = main([*map(str, args)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    assert main(["train", "--data", "synthetic", *TINY, "--out", str(run), "--steps", "2"]) == 0
    return run / "checkpoint.pt"


@pytest.mark.parametrize("field, value, says", [
    ("seed", 2**64, "seed must be at most"), ("seed", -1, "at least 0"), ("g_width", 10**6, "g_width must be at most"),
    ("d_width", 257, "memory"), ("latent_dim", 10**5, "latent_dim must be at most"),
    ("batch_size", 10**6, "batch_size must be at most"), ("batch_size", 2.5, "an integer"),
])
def test_config_numbers_have_ranges(field, value, says):
    with pytest.raises(GanLibError, match=says):
        Config(**{field: value})


def test_the_cli_checks_seeds_widths_and_counts_before_any_work(tmp_path, capsys, checkpoint):
    assert "seed must be at most" in _error_line(capsys, "train", "--data", "synthetic", *TINY, "--out",
                                                  tmp_path / "run", "--seed", 2**64)
    assert "g_width must be at most" in _error_line(capsys, "train", "--data", "synthetic", "--out", tmp_path / "r2",
                                                     "--g-width", 10**6)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    for command in ("generate", "evaluate"):
        out = ["--out", tmp_path / "faces.png"] if command == "generate" else []
        assert "seed must be at most" in _error_line(capsys, command, "--checkpoint", checkpoint, *out, "--seed", 2**64)
    assert "make a grid of" in _error_line(capsys, "generate", "--checkpoint", checkpoint, "--out",
                                           tmp_path / "faces.png", "--n", 10**7)
    assert "make a grid of" in _error_line(capsys, "generate", "--checkpoint", checkpoint, "--out",
                                           tmp_path / "faces.png", "--scale", 10**4)
    assert "--n must be between 2 and 50,000" in _error_line(capsys, "evaluate", "--checkpoint", checkpoint,
                                                              "--n", 10**9)
    assert not (tmp_path / "faces.png").exists()


@pytest.mark.parametrize("args", [["train", "--data", "synthetic", "--out", ""], ["train", "--data", "", "--out", "r"],
                                  ["generate", "--checkpoint", "", "--out", "f.png"],
                                  ["evaluate", "--checkpoint", " "], ["prepare", "--data", ""]])
def test_an_empty_path_is_refused_rather_than_meaning_the_current_folder(args, tmp_path):
    result = subprocess.run([sys.executable, "-m", "gan_lib", *args], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "would mean the current folder" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and list(tmp_path.iterdir()) == []


def test_a_run_folder_inside_the_data_folder_is_refused(tmp_path, capsys):
    data = tmp_path / "faces"
    data.mkdir()
    line = _error_line(capsys, "train", "--data", data, "--out", data / "runs" / "a", *TINY)
    assert "is inside the data folder" in line and not (data / "runs").exists()


def test_an_interrupted_image_write_keeps_the_previous_image_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = viz.save_grid(torch.zeros(4, 3, 32, 32), tmp_path / "grid.png")
    before = path.read_bytes()

    def interrupted(image, fp, format=None, **params):
        open(fp, "wb").write(b"half an image")
        raise KeyboardInterrupt

    monkeypatch.setattr(viz.Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        viz.save_grid(torch.ones(4, 3, 32, 32), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["grid.png"]


def test_figures_and_gifs_are_written_whole_with_the_format_their_name_asks(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    gif = viz.make_gif([torch.zeros(3, 8, 8), torch.ones(3, 8, 8)], tmp_path / "p.gif")
    assert gif.read_bytes()[:6] == b"GIF89a"
    fig = viz.plot_history([{"step": 1, "loss_d": 1.0, "loss_g": 2.0, "d_real": 0.5, "d_fake": 0.5}],
                           tmp_path / "losses.png")
    assert fig is not None and (tmp_path / "losses.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["losses.png", "p.gif"]


def test_clean_up_removes_only_temporaries_that_gan_lib_can_have_made(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    ours = tmp_path / f".grid.png.{pid}.0123abcd.tmp"
    users = [tmp_path / name for name in (f".notes.{pid}.tmp", f".my.{pid}.backup.tmp", f".draft.{pid}.0123abcd.txt",
                                          f".grid.png.{os.getpid()}.0123abcd.tmp")]
    for path in (ours, *users):
        path.write_text("x")
    remove_dead_temporaries(tmp_path)
    assert not ours.exists() and all(path.exists() for path in users)


def test_names_with_newlines_and_escapes_cannot_forge_a_line_or_restyle_the_terminal(tmp_path):
    evil = tmp_path / "faces\nerror: all is fine\x1b[2J\x1b[31m"
    evil.mkdir()
    (evil / "notes\n\x1b[31m.txt").write_text("not an image")
    result = subprocess.run([sys.executable, "-m", "gan_lib", "train", "--data", str(evil), "--out",
                             str(tmp_path / "run"), *TINY], capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "\x1b" not in result.stderr and "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "faces\\nerror: all is fine\\x1b[2J" in lines[0]


def test_a_file_too_large_to_be_an_image_is_skipped_by_its_size(tmp_path):
    from PIL import Image

    from gan_lib.data import prepare_folder
    from gan_lib.data.images import MAX_FILE_BYTES

    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (i * 60, 0, 0)).save(faces / f"{i}.png")
    with open(faces / "huge.png", "wb") as f:  # sparse: the size of a huge file without the disk space
        f.truncate(MAX_FILE_BYTES + 1)
    prepared = prepare_folder(faces, 32, workers=1)
    assert len(prepared) == 3 and prepared.summary["skipped"]["too large a file (over 64 MB)"] == ["huge.png"]


ODD_NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1e309", "abc", "", "99999999999999999999", "0.5"]


def _outcome(capsys, argv: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of the CLI, whether it returned or argparse exited."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def test_every_option_takes_any_text_and_ends_in_success_or_one_line(tmp_path, capsys):
    """Each config option and each of train's, generate's and evaluate's number options, given odd numbers and
    words: it trains, or it says what is wrong in one line (argparse's mistakes too), never a traceback."""
    from dataclasses import fields

    train = ["train", "--data", "synthetic", "--steps", "1", *TINY]
    cases = [(train, "--" + f.name.replace("_", "-")) for f in fields(Config)
             if f.type not in ("bool", bool) and f.name not in ("condition", "classes")]
    cases += [(train, flag) for flag in ("--steps", "--epochs", "--holdout", "--synthetic-count", "--conditional")]
    run = tmp_path / "run"
    assert main([*train, "--out", str(run)]) == 0
    capsys.readouterr()
    for command in ("generate", "evaluate"):
        out = ["--out", str(tmp_path / "g.png")] if command == "generate" else ["--metric", "swd"]
        cases += [([command, "--checkpoint", str(run / "checkpoint.pt"), *out], flag)
                  for flag in ("--n", "--seed", *(["--scale"] if command == "generate" else []))]
    for number, (argv, flag) in enumerate(cases):
        for value in ODD_NUMBERS:
            extra = ["--out", str(tmp_path / f"r{number}-{ODD_NUMBERS.index(value)}")] if argv is train else []
            code, err = _outcome(capsys, [*argv, *extra, flag, value])
            lines = err.strip().splitlines()
            assert code in (0, 2), (flag, value, err)
            if code == 2:
                assert len(lines) == 1 and lines[0].startswith("error:"), (flag, value, err)
