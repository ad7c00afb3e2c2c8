import os
import subprocess
import sys
import time

import pytest
from PIL import Image

import gan_lib.data.datasets as datasets
from gan_lib.data import load_images, prepare_folder
from gan_lib.data.datasets import NAMED_DATASETS
from gan_lib.support.errors import GanLibError

REAL_NETWORK_CHECK = datasets._check_network


def _images(folder, n, fmt="PNG", size=40):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (size, size + i), (i * 20, 100, 200 - i * 20)).save(folder / f"{i}.{fmt.lower()}", fmt)
    return folder


@pytest.fixture(autouse=True)
def no_credentials(tmp_path, monkeypatch):
    """A home without a Kaggle token, no Kaggle variables, downloads into tmp, and no real network or client."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GAN_LIB_DATA_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    monkeypatch.setattr(datasets, "KAGGLE_INPUT", tmp_path / "no-kaggle-input")
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(datasets, "_check_network", lambda: None)
    monkeypatch.setattr(datasets, "_interactive", lambda: False)


def test_each_layout_finds_its_image_folder(tmp_path):
    root = tmp_path / "dl"
    _images(root / "a" / "images", 2, "JPEG")
    assert NAMED_DATASETS["anime-faces"].images_under(root / "a") == root / "a" / "images"
    _images(root / "b" / "data", 3)
    _images(root / "b" / "data" / "data", 3)  # the nested copy: counted once
    folder = NAMED_DATASETS["anime-faces-64"].images_under(root / "b")
    assert folder == root / "b" / "data" / "data" and len(prepare_folder(folder, 32)) == 3
    for version, faces in (("v1.0.0", "face"), ("v2.0.0", "faces")):
        inner = root / version / f"face2comics_{version}_by_Sxela" / f"face2comics_{version}_by_Sxela"
        _images(inner / faces, 2)
        _images(inner / "comics", 4)
        assert NAMED_DATASETS["comic-faces"].images_under(root / version) == inner / "comics"


def test_data_already_on_disk_is_not_downloaded(monkeypatch):
    _images(datasets.data_root() / "animefacedataset" / "images", 3, "JPEG")
    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    monkeypatch.setattr(datasets, "download", lambda d: pytest.fail("downloaded although the data was on disk"))
    assert len(load_images("anime-faces", 32)) == 3


def test_an_earlier_kagglehub_download_is_found(tmp_path, monkeypatch):
    _images(tmp_path / "kagglehub" / "datasets" / "soumikrakshit" / "anime-faces" / "versions" / "1" / "data", 2)
    monkeypatch.setattr(datasets, "download", lambda d: pytest.fail("downloaded although the data was on disk"))
    assert len(load_images("anime-faces-64", 32)) == 2


def test_a_dataset_attached_to_a_kaggle_notebook_is_read_where_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "KAGGLE_INPUT", tmp_path / "kaggle" / "input")
    folder = _images(tmp_path / "kaggle" / "input" / "animefacedataset" / "images", 4, "JPEG")
    folder.chmod(0o555)  # attached datasets are read-only
    monkeypatch.setattr(datasets, "download", lambda d: pytest.fail("downloaded although Kaggle attached it"))
    assert len(load_images("anime-faces", 32)) == 4


def _fake_kagglehub(tmp_path, monkeypatch, calls):
    import kagglehub

    def dataset_download(handle):
        calls.append((handle, os.environ.get("KAGGLE_USERNAME")))
        root = tmp_path / "kagglehub" / "datasets" / handle / "versions" / "4"
        _images(root / "images", 5, "JPEG")
        return str(root)

    monkeypatch.setattr(kagglehub, "dataset_download", dataset_download)


def test_credentials_from_the_environment_go_through_kagglehub(tmp_path, monkeypatch):
    calls = []
    _fake_kagglehub(tmp_path, monkeypatch, calls)
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    assert len(load_images("anime-faces", 32)) == 5
    assert calls == [("splcher/animefacedataset", "alice")]
    load_images("anime-faces", 32)
    assert len(calls) == 1  # the second time it is on disk


def test_credentials_from_kaggle_json(tmp_path, monkeypatch):
    calls = []
    _fake_kagglehub(tmp_path, monkeypatch, calls)
    token = tmp_path / "home" / ".kaggle" / "kaggle.json"
    token.parent.mkdir(parents=True)
    token.write_text('{"username": "bob", "key": "k"}')
    assert len(load_images("anime-faces", 32)) == 5 and calls[0][0] == "splcher/animefacedataset"
    token.write_text("{not json")
    with pytest.raises(GanLibError, match="not a valid Kaggle token"):
        datasets.kaggle_credentials()


def test_a_notebook_without_credentials_asks_through_opendatasets(monkeypatch):
    import opendatasets

    def download(url, data_dir):
        assert url == "https://www.kaggle.com/datasets/splcher/animefacedataset"
        _images(datasets.data_root() / "animefacedataset" / "images", 4, "JPEG")

    monkeypatch.setattr(opendatasets, "download", download)
    monkeypatch.setattr(datasets, "_interactive", lambda: True)
    assert len(load_images("anime-faces", 32)) == 4


def test_no_credentials_non_interactive_is_a_clear_error():
    with pytest.raises(GanLibError) as info:
        load_images("comic-faces", 32)
    for hint in ("KAGGLE_USERNAME and KAGGLE_KEY", "~/.kaggle/kaggle.json", "Colab", "--data synthetic"):
        assert hint in str(info.value)


def test_unreachable_kaggle_is_a_clear_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(datasets, "_check_network", REAL_NETWORK_CHECK)  # against a port nobody listens on
    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    monkeypatch.setattr(datasets, "KAGGLE_HOST", ("127.0.0.1", 9))
    with pytest.raises(GanLibError, match="cannot reach 127.0.0.1.*--data synthetic"):
        datasets.download(NAMED_DATASETS["anime-faces"])


def test_a_download_without_the_image_folder_is_reported(tmp_path, monkeypatch):
    import kagglehub

    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle: str(tmp_path / "empty"))
    with pytest.raises(GanLibError, match="has no 'comics' folder"):
        load_images("comic-faces", 32)


def test_duplicates_are_counted_and_can_be_dropped(tmp_path):
    folder = _images(tmp_path / "dups", 3)
    (folder / "copy.png").write_bytes((folder / "1.png").read_bytes())
    kept = prepare_folder(folder, 32)
    assert len(kept) == 4 and kept.summary["duplicates"] == 1
    dropped = prepare_folder(folder, 32, drop_duplicates=True)
    assert len(dropped) == 3 and dropped.summary["duplicates_dropped"]


def test_cli_without_credentials_ends_fast_with_the_three_ways(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE")}
    env["HOME"] = str(tmp_path / "fresh-home")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "gan_lib", "prepare", "--data", "anime-faces"], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 30
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no Kaggle credentials were found" in result.stderr and "--data synthetic" in result.stderr
