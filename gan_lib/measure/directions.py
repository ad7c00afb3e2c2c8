"""Latent directions that mean something: fitted to labelled attributes (InterFaceGAN) or found without labels
(GANSpace, SeFa). The explorer's sliders move along them.

- InterFaceGAN (Shen et al. 2020, arXiv:2005.09635): the normal of a linear boundary in z that separates faces with
  an attribute value from the rest; "conditional" removes the other attributes' normals from it.
- GANSpace (Harkonen et al. 2020, arXiv:2004.02546): principal components of G's first-block activations, mapped
  back to z by least squares; for a style-based G, of w itself (principal_directions).
- SeFa (Shen and Zhou 2021, arXiv:2007.06600): the top eigenvectors of A^T A, A being G's first layer (a linear map).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.synthetic import ATTRIBUTES
from ..models import Generator, generate
from ..support.errors import GanLibError, printable
from ..support.files import save_atomically
from ..support.runtime import derive_seed


@dataclass
class Directions:
    """Unit vectors in latent space (one per row), each with a name and a note (how it was found)."""

    vectors: torch.Tensor  # (k, latent_dim)
    names: list[str]
    notes: list[str] = field(default_factory=list)
    method: str = ""

    def __post_init__(self) -> None:
        vectors, norms = self.vectors, self.vectors.norm(dim=1, keepdim=True)
        if not torch.isfinite(norms).all():  # finite entries whose norm overflows: normalised in float64
            vectors, norms = vectors.double(), vectors.double().norm(dim=1, keepdim=True)
        self.vectors = (vectors / norms.clamp_min(1e-12)).to(self.vectors.dtype)
        self.notes = self.notes or [""] * len(self.names)
        if not len(self.vectors) == len(self.names) == len(self.notes):
            raise GanLibError(f"{len(self.vectors)} directions need as many names and notes")

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str | int) -> int:
        if isinstance(name, int):
            return name
        if name not in self.names:
            raise GanLibError(f"no direction named {name!r}: the names are {', '.join(self.names)}")
        return self.names.index(name)

    def rename(self, old: str | int, new: str) -> None:
        """Name a direction after what it does (e.g. rename(0, 'hair darkness') once the gallery shows it)."""
        self.names[self.index(old)] = new

    def select(self, names: list[str | int]) -> Directions:
        rows = [self.index(n) for n in names]
        return Directions(self.vectors[rows], [self.names[i] for i in rows], [self.notes[i] for i in rows],
                          self.method)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Keep the directions (and their names) with the run: load them back with Directions.load. A file that holds
        other directions (found on another generator, or before it trained further), or is not a directions file, is
        kept: pass overwrite=True to replace it. Saving new names for the same directions replaces their file."""
        path = Path(path)
        if not torch.isfinite(self.vectors).all():
            raise GanLibError("these directions are not numbers (NaN or inf), which would draw blank faces: find them "
                              "again from a generator whose weights are finite, then save them")
        if path.exists() and not overwrite and self._saved_at(path) is None:
            raise GanLibError(printable(f"{path} holds other directions (found on another generator, or before it "
                                        "trained further) or is not a directions file: save to another file, or pass "
                                        "overwrite=True to replace it"))
        return save_atomically({"vectors": self.vectors, "names": self.names, "notes": self.notes,
                                "method": self.method}, path)

    def _saved_at(self, path: Path) -> Directions | None:
        """The directions file at path, read once, if it holds these directions (whatever their names); else None."""
        try:
            saved = Directions.load(path)
        except GanLibError:
            return None
        same = saved.vectors.shape == self.vectors.shape and torch.allclose(saved.vectors, self.vectors, atol=1e-4)
        return saved if same else None

    def with_saved_names(self, path: str | Path) -> Directions:
        """These directions with the names saved at `path` by an earlier session, when that file holds the same
        directions (found the same way on the same generator); unchanged when there is no file or it holds others
        (e.g. saved before the generator trained further)."""
        saved = self._saved_at(Path(path)) if Path(path).exists() else None
        if saved is None:
            return self
        return Directions(self.vectors, list(saved.names), list(self.notes), self.method)

    @classmethod
    def load(cls, path: str | Path, latent_dim: int | None = None) -> Directions:
        """Directions saved with `save`; `latent_dim`, when given, must be theirs. One line for anything else."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            vectors, names, notes = state["vectors"], list(state["names"]), list(state["notes"])
            valid = (isinstance(vectors, torch.Tensor) and vectors.layout == torch.strided and vectors.dim() == 2
                     and vectors.dtype.is_floating_point and all(isinstance(text, str) for text in names + notes))
        except Exception as exc:  # missing, damaged, foreign, or a pickle that would run code
            raise GanLibError(f"{printable(str(path))} is not a directions file saved by Directions.save "
                              f"({type(exc).__name__})") from exc
        if not valid:
            raise GanLibError(f"{printable(str(path))} is a damaged directions file: it needs a 2-D tensor of vectors "
                              "and their names and notes")
        if not torch.isfinite(vectors).all():
            raise GanLibError(f"{printable(str(path))} holds directions that are not numbers (NaN or inf), which would "
                              "draw blank faces: find them again and save them over it (save(path, overwrite=True))")
        if (vectors == 0).all(dim=1).any():
            raise GanLibError(f"{printable(str(path))} holds a direction of length 0, which moves nothing: find them "
                              "again and save them over it (save(path, overwrite=True))")
        if latent_dim is not None and vectors.shape[1] != latent_dim:
            raise GanLibError(f"{printable(str(path))} holds directions of latent size {vectors.shape[1]}, but the "
                              f"generator's latent size is {latent_dim}")
        return cls(vectors, names, notes, str(state.get("method", "")))


def sample_latents(n: int, latent_dim: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(derive_seed(seed, "latents")))


# --- InterFaceGAN: directions fitted to the attribute classifier's labels -----------------------------------

def attribute_directions(G: Generator, classifier, n: int = 4000, seed: int = 0, conditional: bool = False,
                         min_count: int = 40) -> Directions:
    """One direction per attribute value that G draws at least min_count times (and misses as often) in n faces:
    the normal of a linear SVM that separates those latents from the others (class-balanced). conditional=True
    projects out the other attributes' directions, so that moving changes the others less.
    """
    z = sample_latents(n, G.latent_dim, seed)
    labels = classifier.predict(generate(G, z))
    return directions_from_boundaries(z, labels, attribute_boundaries(z, labels, min_count), conditional)


def attribute_boundaries(latents: torch.Tensor, labels: dict[str, torch.Tensor],
                         min_count: int = 40) -> list[tuple[str, int, object]]:
    """The linear boundaries behind attribute_directions, in any latent space: (attribute, value index, a LinearSVC
    fitted class-balanced to separate the latents with that value from the others) for each value that at least
    min_count of the latents have and as many lack."""
    from sklearn.svm import LinearSVC

    x, boundaries = latents.numpy(), []
    for attribute, values in ATTRIBUTES.items():
        for k in range(len(values)):
            positive = (labels[attribute] == k).numpy()
            if min_count <= int(positive.sum()) <= len(x) - min_count:
                svm = LinearSVC(C=0.1, class_weight="balanced", random_state=0).fit(x, positive)
                boundaries.append((attribute, k, svm))
    return boundaries


def directions_from_boundaries(latents: torch.Tensor, labels: dict[str, torch.Tensor],
                               boundaries: list[tuple[str, int, object]], conditional: bool = False) -> Directions:
    """attribute_directions from boundaries that attribute_boundaries fitted to these latents and labels."""
    x, n = latents.numpy(), len(latents)
    if not boundaries:
        return Directions(torch.empty(0, latents.shape[1]), [], [], "interfacegan")
    names = [attribute_label(attribute, ATTRIBUTES[attribute][k]) for attribute, k, _ in boundaries]
    notes = [f"{int((labels[attribute] == k).sum()) / n:.0%} of faces; boundary accuracy "
             f"{svm.score(x, (labels[attribute] == k).numpy()):.0%}" for attribute, k, svm in boundaries]
    owners = [attribute for attribute, _, _ in boundaries]
    directions = torch.stack([torch.from_numpy(svm.coef_[0]).float() for _, _, svm in boundaries])
    directions = directions / directions.norm(dim=1, keepdim=True)
    if conditional:
        directions = torch.stack([_project_out(d, directions[[o != owner for o in owners]])
                                  for d, owner in zip(directions, owners)])
    return Directions(directions, names, notes, "interfacegan" + (" conditional" if conditional else ""))


def attribute_label(attribute: str, value: str) -> str:
    """A slider's name for a synthetic-face attribute value: 'blonde hair', 'blue eyes', 'long hair', 'open mouth'."""
    if attribute == "hair_style":
        return f"{value} hair" if value in ("short", "long") else value
    suffix = {"hair_color": "hair", "eye_color": "eyes", "mouth": "mouth"}[attribute]
    return value if value == "smile" else f"{value} {suffix}"


def _project_out(direction: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """direction minus its projection onto the span of others' rows."""
    if not len(others):
        return direction
    basis, _ = torch.linalg.qr(others.T)
    return direction - basis @ (basis.T @ direction)


def entanglement(G: Generator, classifier, directions: Directions, n: int = 500, step: float = 3.0,
                 seed: int = 1) -> torch.Tensor:
    """(directions, attributes): the share of n faces whose attribute the classifier reads differently after a
    move of `step` along each direction. A clean slider changes its own attribute and leaves the others."""
    z = sample_latents(n, G.latent_dim, seed)
    return changed_shares(lambda latents: generate(G, latents), classifier, z, step * directions.vectors)


def changed_shares(render, classifier, latents: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """(moves, attributes): entanglement in any latent space: the share of the faces render(latents) whose attribute
    the classifier reads differently once the latents move by each row of moves."""
    before = classifier.predict(render(latents))
    rows = []
    for move in moves:
        after = classifier.predict(render(latents + move))
        rows.append(torch.tensor([float((after[a] != before[a]).float().mean()) for a in ATTRIBUTES]))
    return torch.stack(rows) if rows else torch.empty(0, len(ATTRIBUTES))


# --- Unsupervised: GANSpace and SeFa ------------------------------------------------------------------------

def _check_dcgan(G: torch.nn.Module, method: str) -> None:
    """GANSpace and SeFa as written here read a DCGAN G's first layer (G.project)."""
    if not hasattr(G, "project"):
        raise GanLibError(f"{method} here reads a DCGAN generator's first layer, and this generator has none (a "
                          "style-based G?): find its directions with InterFaceGAN (attribute_directions)")


@torch.no_grad()
def ganspace_directions(G: Generator, k: int = 10, n: int = 4000, seed: int = 0) -> Directions:
    """The top k principal components of G's first-block output (4x4 features), as directions in z."""
    from sklearn.decomposition import PCA

    _check_dcgan(G, "GANSpace")
    z = sample_latents(n, G.latent_dim, seed)
    G.eval()  # the first block's BatchNorm with its running statistics, as in sampling
    features = generate(G.project, G.inputs(z)).flatten(1)
    k = min(k, G.latent_dim, n)
    pca = PCA(n_components=k, random_state=0).fit(features.numpy())
    coordinates = torch.from_numpy(pca.transform(features.numpy())).float()  # (n, k)
    to_latent = torch.linalg.lstsq(coordinates, z).solution  # (k, latent_dim): z ~ coordinates @ to_latent
    notes = [f"PC{i + 1}, {share:.1%} of the variance" for i, share in enumerate(pca.explained_variance_ratio_)]
    return Directions(to_latent, [f"PC{i + 1}" for i in range(k)], notes, "ganspace")


def principal_directions(latents: torch.Tensor, k: int = 4) -> Directions:
    """The top k principal components of latents (N, latent_dim) as directions: GANSpace as its paper finds a
    StyleGAN's, in w. They need no classifier, so they exist whatever the faces look like."""
    centred = latents.float() - latents.float().mean(0)
    _, singular, components = torch.linalg.svd(centred, full_matrices=False)
    k = min(k, len(singular))
    shares = singular[:k].square() / singular.square().sum().clamp_min(1e-12)
    notes = [f"PC{i + 1}, {share:.1%} of the variance" for i, share in enumerate(shares.tolist())]
    return Directions(components[:k], [f"PC{i + 1}" for i in range(k)], notes, "pca")


@torch.no_grad()
def sefa_directions(G: Generator, k: int = 10) -> Directions:
    """The top k eigenvectors of A^T A, where A is G's first layer with its (eval-mode) BatchNorm scale folded in:
    the directions in z that change the first feature map the most."""
    _check_dcgan(G, "SeFa")
    layer = next(m for m in G.project if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)))
    norm = next(m for m in G.project if isinstance(m, torch.nn.BatchNorm2d))
    latent = slice(0, G.latent_dim)  # a conditional G's inputs go on with the one-hot class: not a direction in z
    if isinstance(layer, torch.nn.Linear):  # dense projection: weight (C*16, latent)
        A = layer.weight[:, latent].float().cpu().view(-1, 16, G.latent_dim)
    else:  # ConvTranspose2d on a 1x1 input: weight (latent, C, 4, 4)
        A = layer.weight[latent].float().cpu().flatten(2).permute(1, 2, 0)
    scale = (norm.weight / (norm.running_var + norm.eps).sqrt()).float().cpu()
    A = (A * scale[:, None, None]).reshape(-1, G.latent_dim)
    eigenvalues, eigenvectors = torch.linalg.eigh(A.T @ A)
    order = eigenvalues.argsort(descending=True)[:min(k, G.latent_dim)]
    shares = eigenvalues[order] / eigenvalues.sum()
    notes = [f"eigenvalue {i + 1}, {share:.1%} of the sum" for i, share in enumerate(shares.tolist())]
    return Directions(eigenvectors[:, order].T, [f"SeFa {i + 1}" for i in range(len(order))], notes, "sefa")


def gallery(G: Generator, directions: Directions, start: torch.Tensor, span: float = 3.0,
            frames: int = 7, label: int | None = None) -> torch.Tensor:
    """Faces along each direction from start - span to start + span: (len(directions) * frames, 3, H, W), one row
    per direction, for viz.show_grid(..., nrow=frames); label: a conditional G's class for every face."""
    steps = torch.linspace(-span, span, frames)
    z = torch.cat([start.cpu() + steps[:, None] * vector for vector in directions.vectors])
    return generate(G, z, labels=None if label is None else torch.full((len(z),), label))
