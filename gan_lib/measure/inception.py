"""The Inception-v3 features behind FID and KID: weights checked to hold nothing but tensors before torch-fidelity
(which unpickles the file it is given) sees them, and real images' features cached under a key of their content, the
weights and the libraries that computed them."""

from __future__ import annotations

import hashlib
import importlib.metadata
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import torch

from ..support.errors import GanLibError, printable
from ..support.files import cache_dir, save_atomically
from ..support.pixels import to_uint8

FEATURES = 2048
WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"


def _default_weights() -> Path:
    """torch-fidelity's weights in torch hub's cache, downloaded there on first use."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(URL_INCEPTION_V3).path).name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(path), hash_prefix="6726825d", progress=False)
    return path


def weight_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights in `path`, read without running any code the file may carry; one line if it holds anything else."""
    if not Path(path).is_file():
        raise GanLibError(f"could not load the Inception weights for FID/KID: there is no file {printable(str(path))}; "
                          f"download {WEIGHTS_NAME} from github.com/toshas/torch-fidelity/releases and pass it with "
                          "--inception-weights (--metric swd needs no weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # missing, damaged, or a pickle that would run code: all refused the same way
        raise GanLibError(f"{printable(str(path))} is not a file of Inception weights ({type(exc).__name__}); "
                          f"download {WEIGHTS_NAME} from github.com/toshas/torch-fidelity/releases") from exc
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanLibError(f"{printable(str(path))} does not hold a state dict of tensors: it is not {WEIGHTS_NAME}")
    return state


def inception_features(images: torch.Tensor, weights: str | Path | None = None, batch: int = 100,
                       device: str | torch.device = "cpu") -> torch.Tensor:
    """2048-d Inception-v3 pool features (the standard FID network), (N, 2048).

    The weights are downloaded on first use where there is network (Colab); offline, pass a local weights file
    (weights-inception-2015-12-05-6726825d.pth from torch-fidelity's releases on GitHub).
    """
    net = _network(weights, device)
    uint8 = to_uint8(images)
    with torch.no_grad():
        return torch.cat([net(uint8[i:i + batch].to(device)).cpu() for i in range(0, len(uint8), batch)])


_loaded: dict[tuple[str, str], torch.nn.Module] = {}  # the last network built: FID computes three feature sets


def _network(weights: str | Path | None, device: str | torch.device) -> torch.nn.Module:
    """The Inception network for these weights on this device, built once per weights file (and rebuilt when it
    changes)."""
    key = (_weights_identity(weights), str(device))
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = _build_network(weights, device)
    return _loaded[key]


def _build_network(weights: str | Path | None, device: str | torch.device) -> torch.nn.Module:
    """torchmetrics' Inception-v3, given a checked, tensors-only copy of the weights."""
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except (ImportError, ModuleNotFoundError) as exc:
        raise GanLibError("FID and KID need torchmetrics and torch-fidelity: pip install 'gan_lib[metrics]'") from exc
    try:
        state = weight_tensors(weights if weights else _default_weights())
    except OSError as exc:  # no network for the download
        raise GanLibError(f"could not load the Inception weights for FID/KID ({type(exc).__name__}: {exc}); "
                          f"connect to the internet once, or download {WEIGHTS_NAME} from "
                          "github.com/toshas/torch-fidelity/releases and pass it with --inception-weights; "
                          "--metric swd needs no weights") from exc
    with tempfile.TemporaryDirectory() as folder:  # a copy of nothing but tensors is what torch-fidelity unpickles
        checked = Path(folder) / WEIGHTS_NAME
        torch.save(state, checked)
        try:
            return NoTrainInceptionV3(name="inception-v3-compat", features_list=[str(FEATURES)],
                                      feature_extractor_weights_path=str(checked)).to(device)
        except Exception as exc:  # tensors, but not Inception's
            raise GanLibError(f"{printable(str(weights))} holds tensors but not Inception-v3's ({type(exc).__name__})"
                              ) from exc


def _weights_identity(weights: str | Path | None) -> str:
    """A weights file by its resolved path, size and modification time ('' for the default download)."""
    if not weights:
        return ""
    stat = Path(weights).stat() if Path(weights).is_file() else None
    return f"{Path(weights).resolve()}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}"


def _libraries() -> str:
    """The versions of what computes the features: torch, and torchmetrics' Inception (its resizing and layers)."""
    try:
        torchmetrics = importlib.metadata.version("torchmetrics")
    except importlib.metadata.PackageNotFoundError:
        torchmetrics = "absent"
    return f"torch {torch.__version__}, torchmetrics {torchmetrics}"


def content_key(images: torch.Tensor, weights: str | Path | None) -> str:
    """A key for the features of these exact images under these weights (a file by its resolved path, size and
    modification time) and these library versions: features computed by another version are computed again."""
    digest = hashlib.blake2b(to_uint8(images).contiguous().numpy().tobytes(), digest_size=16)
    digest.update(f"{_weights_identity(weights)}|{_libraries()}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def cached_features(images: torch.Tensor, weights: str | Path | None,
                    compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Features of real images, computed once per content key in the cache folder; a cached file that is damaged or
    not (len(images), 2048) floats is computed again."""
    path = cache_dir() / f"features-{content_key(images, weights)}.pt"
    try:
        features = torch.load(path, map_location="cpu", weights_only=True)
        if (isinstance(features, torch.Tensor) and features.dtype.is_floating_point
                and features.shape == (len(images), FEATURES)):
            return features
    except Exception:  # missing or damaged (weights_only refuses anything but tensors): computed again
        pass
    features = compute()
    save_atomically(features, path)
    return features
