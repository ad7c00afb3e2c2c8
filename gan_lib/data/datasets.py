"""The course's Kaggle datasets by name: where their images sit after a download, and a download that never hangs."""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ..support.environment import path_setting
from ..support.errors import GanLibError
from ..support.files import IMAGE_EXTENSIONS, cache_dir

KAGGLE_HOST = ("www.kaggle.com", 443)
KAGGLE_INPUT = Path("/kaggle/input")  # where Kaggle Notebooks attach datasets, read-only
CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class NamedDataset:
    name: str
    handle: str  # Kaggle owner/slug
    image_folder: str  # the folder that holds this dataset's images, searched for below the download
    description: str

    @property
    def local_root(self) -> Path:
        """Where opendatasets puts it: data_root()/<slug>."""
        return data_root() / self.handle.split("/")[1]

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/datasets/{self.handle}"

    def images_under(self, root: Path) -> Path | None:
        """The deepest folder named image_folder below root (or root itself) that directly holds images."""
        candidates = [root, *(p for p in root.rglob(self.image_folder) if p.is_dir())]
        holding = [p for p in candidates if p.name == self.image_folder and any(
            f.suffix.lower() in IMAGE_EXTENSIONS for f in p.iterdir())]
        return max(holding, key=lambda p: len(p.parts)) if holding else None


NAMED_DATASETS = {d.name: d for d in (
    NamedDataset("anime-faces", "splcher/animefacedataset", "images",
                 "Anime Face Dataset: about 63.6k JPEG faces of 90-120 px"),
    NamedDataset("anime-faces-64", "soumikrakshit/anime-faces", "data",
                 "anime-faces: 21,551 PNG faces of 64 px (the nested data/data/ copy is counted once)"),
    NamedDataset("comic-faces", "defileroff/comic-faces-paired-synthetic", "comics",
                 "face2comics, comics half only: 10,000 comic faces of 512 or 1024 px"),
)}


def data_root() -> Path:
    """Where named datasets are downloaded to: $GAN_LIB_DATA_DIR, else ~/.cache/gan_lib/datasets."""
    return path_setting("GAN_LIB_DATA_DIR", cache_dir() / "datasets")


def _kagglehub_roots(dataset: NamedDataset) -> list[Path]:
    cache = Path(os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub")
    versions = cache / "datasets" / dataset.handle / "versions"
    return sorted(versions.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1,
                  reverse=True) if versions.is_dir() else []


def find_on_disk(dataset: NamedDataset) -> Path | None:
    """The image folder of a dataset attached to a Kaggle notebook, or of an earlier download (ours, opendatasets'
    or kagglehub's), or None."""
    attached = KAGGLE_INPUT / dataset.handle.split("/")[1]
    for root in (attached, dataset.local_root, *_kagglehub_roots(dataset)):
        if root.is_dir() and (folder := dataset.images_under(root)):
            return folder
    return None


def kaggle_credentials() -> tuple[str, str] | None:
    """(username, key) from KAGGLE_USERNAME/KAGGLE_KEY, ~/.kaggle/kaggle.json, or Colab secrets."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"]
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle") / "kaggle.json"
    if config.is_file():
        try:
            values = json.loads(config.read_text())
            return values["username"], values["key"]
        except (ValueError, KeyError, TypeError) as exc:
            raise GanLibError(f"{config} is not a valid Kaggle token ({exc}): download a new one from "
                              "https://www.kaggle.com/settings (Create New Token)") from exc
    if "google.colab" in sys.modules:
        try:
            from google.colab import userdata

            username, key = userdata.get("KAGGLE_USERNAME"), userdata.get("KAGGLE_KEY")
        except Exception:  # secret missing or notebook access not granted
            return None
        os.environ.update(KAGGLE_USERNAME=username, KAGGLE_KEY=key)  # where kagglehub looks for them
        return username, key
    return None


def _interactive() -> bool:
    return "ipykernel" in sys.modules or sys.stdin is not None and sys.stdin.isatty()


def _check_network() -> None:
    try:
        socket.create_connection(KAGGLE_HOST, timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise GanLibError(f"cannot reach {KAGGLE_HOST[0]} to download ({exc}): connect to the internet, put the "
                          "dataset in a local folder and pass its path, or pass --data synthetic") from exc


def download(dataset: NamedDataset) -> Path:
    """Download with kagglehub when credentials are found; in a notebook without them, opendatasets asks."""
    credentials = kaggle_credentials()
    if credentials is None and not _interactive():
        raise GanLibError(
            f"'{dataset.name}' is not on disk and no Kaggle credentials were found. Provide them in one of three "
            "ways: set KAGGLE_USERNAME and KAGGLE_KEY, save your token as ~/.kaggle/kaggle.json, or (on Colab) add "
            "the secrets KAGGLE_USERNAME and KAGGLE_KEY; or pass a local folder, or --data synthetic")
    _check_network()
    if credentials is None:
        import opendatasets

        opendatasets.download(dataset.url, str(data_root()))  # prompts for username and key
        root = dataset.local_root
    else:
        import kagglehub

        root = Path(kagglehub.dataset_download(dataset.handle))
    folder = dataset.images_under(root)
    if folder is None:
        raise GanLibError(f"the download of {dataset.handle} in {root} has no '{dataset.image_folder}' folder of "
                          "images: delete it and try again, or pass the image folder as --data")
    return folder


def why_unavailable(name: str) -> str:
    """Why the named dataset cannot be had now: not on disk and no Kaggle credentials, or Kaggle out of reach; ""
    when it is on disk or can be downloaded."""
    dataset = NAMED_DATASETS[name]
    if find_on_disk(dataset):
        return ""
    if kaggle_credentials() is None:
        return "it is not on disk and no Kaggle credentials were found"
    try:
        _check_network()
    except GanLibError:
        return f"it is not on disk and {KAGGLE_HOST[0]} cannot be reached"
    return ""


def locate(name: str) -> Path:
    """The image folder of a named dataset, downloading it first if it is not on disk."""
    dataset = NAMED_DATASETS[name]
    return find_on_disk(dataset) or download(dataset)
