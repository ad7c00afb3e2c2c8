"""StyleGAN's disentanglement claim measured, z against w (Karras et al. 2019, arXiv:1812.04948, section 4): the
entanglement of attribute directions, linear separability and perceptual path length of a style-based G, in either
space through one seam (`sample` and `render`), read by the synthetic faces' attribute classifier.

Both spaces see the same faces: the w of a seed are the mapping of that seed's z, so the two columns differ only in
the space the measure works in. Rendering is untruncated, each w copied to every layer, with each layer's fixed
noise map (both ends of a path get the same noise, as in the paper)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..data.synthetic import ATTRIBUTES
from ..models import generate, lerp, slerp
from ..support.errors import GanLibError, printable
from ..support.runtime import derive_seed
from .directions import (
    Directions,
    attribute_boundaries,
    attribute_label,
    changed_shares,
    directions_from_boundaries,
    principal_directions,
    sample_latents,
)
from .metrics import diversity, mode_coverage, sliced_wasserstein

SPACES = ("z", "w")
EPSILON = 1e-4
ROWS = ("path length", "separability", *(f"separability: {a}" for a in ATTRIBUTES), "entanglement: own attribute",
        "entanglement: other attributes")
_OWNER = {attribute_label(a, v): a for a, values in ATTRIBUTES.items() for v in values}


class _Seen(nn.Module):
    """G from one space: latents -> images (z through the mapping network), or with to_w, z -> w alone."""

    def __init__(self, G: nn.Module, space: str, to_w: bool = False):
        super().__init__()
        self.G, self.space, self.to_w = G, space, to_w
        self.train(G.training)  # generate puts this module, and so G, back in this mode: G's own

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        w = self.G.map(latents) if self.space == "z" else latents
        if self.to_w:
            return w
        return self.G.synthesis(w[:, None, :].expand(-1, self.G.num_ws, -1), noise_mode="const")


def check_space(G: nn.Module, space: str) -> None:
    """A style-based G (a mapping network to w) and a space of SPACES, or one line saying what is wrong."""
    if not all(hasattr(G, name) for name in ("map", "synthesis", "num_ws")):
        raise GanLibError(f"z against w needs a style-based generator (train --arch style); this one is a "
                          f"{type(G).__name__}, which has no mapping network and so no w")
    if space not in SPACES:
        raise GanLibError(f"the space must be 'z' or 'w', not {printable(repr(space))}")


def sample(G: nn.Module, space: str, n: int, seed: int = 0) -> torch.Tensor:
    """n latents of the space: z ~ N(0, I) from the seed, or their w (the same faces in either space)."""
    check_space(G, space)
    z = sample_latents(n, G.latent_dim, seed)
    return z if space == "z" else generate(_Seen(G, "z", to_w=True), z)


def render(G: nn.Module, space: str, latents: torch.Tensor) -> torch.Tensor:
    """The images of latents of the space, float on the CPU (in batches, eval mode, G's mode kept)."""
    check_space(G, space)
    return generate(_Seen(G, space), latents)


def _standardised(latents: torch.Tensor) -> torch.Tensor:
    """Centred and divided by one spread for all coordinates: directions keep their angles, and the SVM's C means
    the same in z and in w, whose scale is the mapping network's."""
    centred = latents - latents.mean(0)
    return centred / centred.square().mean().sqrt().clamp_min(1e-12)


def _labelled(G, classifier, space: str, n: int, seed: int, min_count: int):
    latents = sample(G, space, n, seed)
    labels = classifier.predict(render(G, space, latents))
    x = _standardised(latents)
    return x, labels, attribute_boundaries(x, labels, min_count)


def entanglement_in(G: nn.Module, classifier, space: str, n: int = 2000, seed: int = 0, step: float = 3.0,
                    moved: int = 500, min_count: int = 40) -> tuple[Directions, torch.Tensor]:
    """InterFaceGAN directions found in the space on n faces, and their entanglement matrix (directions,
    attributes) on `moved` other faces: the share whose attribute the classifier reads differently after the move.
    The step's rule, the same in both spaces: `step` standard deviations of those latents along the direction
    (about `step` in z, as directions.entanglement; in w, the same share of w's own spread)."""
    return _entanglement(G, classifier, space, _labelled(G, classifier, space, n, seed, min_count), seed, step, moved)


def _entanglement(G, classifier, space: str, labelled, seed: int, step: float, moved: int):
    directions = directions_from_boundaries(*labelled)
    latents = sample(G, space, moved, derive_seed(seed, "entanglement"))
    spread = (latents @ directions.vectors.T).std(0) if len(directions) else torch.empty(0)
    moves = step * spread[:, None] * directions.vectors
    return directions, changed_shares(lambda v: render(G, space, v), classifier, latents, moves)


def explorer_directions(found: Directions, w: torch.Tensor, k: int = 4) -> tuple[Directions, str]:
    """The sliders of an explorer in w, and a line saying what they are: the attribute directions found in w where
    there are any, else w's top k principal directions (a young G's faces may all read as the same values)."""
    if len(found):
        return found, f"the sliders: the attribute directions found in w ({', '.join(found.names)})"
    principal = principal_directions(w, k)
    return principal, (f"the sliders: w's top {len(principal)} principal directions (no attribute value was common "
                       "enough among these faces for a direction of its own)")


def conditional_entropy(y: torch.Tensor, x: torch.Tensor) -> float:
    """H(Y | X) in nats of two boolean tensors: what is left to know of y once x is known."""
    joint = torch.stack([((y == a) & (x == b)).sum() for a in (0, 1) for b in (0, 1)]).double().view(2, 2)
    joint, given = joint / joint.sum(), joint.sum(0) / joint.sum()  # p(y, x), p(x)
    terms = torch.where(joint > 0, joint * (given / joint.clamp_min(1e-300)).log(), torch.zeros_like(joint))
    return float(terms.sum())


def separability(G: nn.Module, classifier, space: str, n: int = 2000, seed: int = 0,
                 min_count: int = 40) -> dict[str, float]:
    """Linear separability per attribute (the paper's section 4.2): n faces labelled by the classifier; for each
    attribute value, one-vs-rest, a linear SVM on the latents (the boundaries of the directions) and H(Y|X) in nats
    of the label Y (the value or not) given the SVM's side X, summed over the attribute's values; a value seen
    fewer than min_count times (or missed as rarely) has no boundary and adds H(Y). The paper's score is exp of
    the sum over attributes (`score`); lower is more separable. Unlike the paper: all n faces count (the paper
    keeps the classifier's most confident half) and an attribute of k values is k binary ones."""
    return _separability(*_labelled(G, classifier, space, n, seed, min_count))


def _separability(x: torch.Tensor, labels: dict[str, torch.Tensor], boundaries) -> dict[str, float]:
    side = {(attribute, k): torch.from_numpy(svm.predict(x.numpy())) for attribute, k, svm in boundaries}
    constant = torch.zeros(len(x), dtype=torch.bool)
    return {attribute: sum(conditional_entropy(labels[attribute] == k, side.get((attribute, k), constant))
                           for k in range(len(values))) for attribute, values in ATTRIBUTES.items()}


def score(entropies: dict[str, float]) -> float:
    """The paper's separability: exp of the conditional entropies summed over attributes."""
    return math.exp(sum(entropies.values()))


@torch.no_grad()
def features(classifier, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The perceptual features of path length: the attribute classifier's penultimate layer (256 values), each
    face's vector scaled to length 1 (as LPIPS normalises its layers). LPIPS's VGG weights cannot ship offline; this
    network is trained on these very faces to tell their hair, eyes, style and mouth apart, so its distance counts
    what changed about the face, not pixels that moved."""
    classifier.eval()
    out = [classifier.body(classifier.prepare(images[i:i + batch])) for i in range(0, len(images), batch)]
    return F.normalize(torch.cat(out).float(), dim=1)


def path_length(G: nn.Module, classifier, space: str, n: int = 1000, seed: int = 0, epsilon: float = EPSILON,
                percentiles: tuple[float, float] = (1, 99)) -> float:
    """Perceptual path length (the paper's section 4.1): for n pairs of seeded z (their w in w) and t ~ U(0, 1),
    the squared feature distance between the faces at t and t + epsilon on the path, over epsilon^2: slerp in z,
    lerp in w. The mean of the values between the two percentiles (NVIDIA's code keeps the 1st to the 99th)."""
    check_space(G, space)
    draws = torch.Generator().manual_seed(derive_seed(seed, "path length"))
    ends = torch.randn(2, n, G.latent_dim, generator=draws)
    t = torch.rand(n, 1, generator=draws)
    if space == "w":
        ends = generate(_Seen(G, "z", to_w=True), ends.flatten(0, 1)).view(2, n, -1)
    path = slerp if space == "z" else lerp
    a, b = (features(classifier, render(G, space, path(ends[0], ends[1], at))) for at in (t, t + epsilon))
    distances = (a - b).square().sum(1).double() / epsilon**2
    low, high = (torch.quantile(distances, p / 100) for p in percentiles)
    return float(distances[(distances >= low) & (distances <= high)].mean())


def z_against_w(G: nn.Module, classifier, n: int = 2000, seed: int = 0, pairs: int = 1000, moved: int = 500,
                step: float = 3.0) -> dict[str, dict[str, float]]:
    """All three measures in z and in w: {row of ROWS: {"z": value, "w": value}}. Entanglement's rows: the mean
    share of faces whose attribute changes along a direction found for it (own; higher is a stronger slider) and
    the mean over the three other attributes (lower is cleaner); NaN when no value is common enough."""
    table = {row: {} for row in ROWS}
    for space in SPACES:
        table["path length"][space] = path_length(G, classifier, space, pairs, seed)
        labelled = _labelled(G, classifier, space, n, seed, min_count=40)  # one set of boundaries for both
        entropies = _separability(*labelled)
        table["separability"][space] = score(entropies)
        for attribute, value in entropies.items():
            table[f"separability: {attribute}"][space] = value
        directions, matrix = _entanglement(G, classifier, space, labelled, seed, step, moved)
        own = torch.tensor([list(ATTRIBUTES).index(_OWNER[name]) for name in directions.names], dtype=torch.long)
        mine = F.one_hot(own, len(ATTRIBUTES)).bool()
        table["entanglement: own attribute"][space] = float(matrix[mine].mean())
        table["entanglement: other attributes"][space] = float(matrix[~mine].mean())
    return table


def format_table(tables: dict | list[dict], digits: int = 3) -> str:
    """A markdown table of z_against_w's tables (one per seed): each cell the mean, ± the standard deviation over
    the seeds when there are several; a NaN (no direction found) is left out, and a cell of none says so."""
    tables = [tables] if isinstance(tables, dict) else tables
    lines = ["| measure | z | w |", "|---|---|---|"]
    for row in ROWS:
        cells = []
        for space in SPACES:
            values = torch.tensor([t[row][space] for t in tables], dtype=torch.float64)
            values = values[~values.isnan()]
            cell = f"{float(values.mean()):.{digits}g}" if len(values) else "no direction found"
            cell += f" ± {float(values.std()):.{digits}g}" if len(values) > 1 else ""
            cells.append(cell + (f" ({len(values)} of {len(tables)} seeds)" if 0 < len(values) < len(tables) else ""))
        lines.append(f"| {row} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def truncation_sweep(G: nn.Module, z: torch.Tensor, reference: torch.Tensor, psis: tuple[float, ...],
                     classifier: nn.Module | None = None) -> dict[float, dict[str, float]]:
    """The truncation trade-off of a style-based G in eval mode: for each psi, the SWD x 1e3 of its samples of z
    against the reference faces (quality and variety together), their diversity (variety alone) and, given the
    synthetic faces' classifier, the attribute values they cover. G.psi is put back as it was."""
    kept, sweep = G.psi, {}
    try:
        for psi in psis:
            G.psi = psi
            images = generate(G, z, as_uint8=True)
            sweep[psi] = {"swd": sliced_wasserstein(reference, images[:len(reference)])["mean"],
                          "diversity": diversity(images)}
            if classifier is not None:
                sweep[psi]["covered"] = sum(m["covered"] for m in mode_coverage(images, classifier).values())
    finally:
        G.psi = kept
    return sweep

