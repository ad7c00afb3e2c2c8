"""Notebook 02's implement-it checks: the generator's and the discriminator's blocks, D's and G's losses."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ... import losses, models
from ...config import Config
from ...models import Discriminator, Generator, init_weights
from .guard import guarded_call, preserved_state
from .verdicts import Case, Signature, _raised, implementation_verdict


def _logits(seed: int, n: int, shift: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 + shift).to(dtype)


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


# D's logits on real and on generated images: real above fake and below it, several batch sizes, a float64 case
D_LOSS_CASES = [
    Case((_logits(0, 16, 1.0), _logits(1, 16, -1.0), 0.1), "label_smoothing 0.1, real logits above generated ones"),
    Case((_logits(2, 7, -1.5), _logits(3, 7, 2.0), 0.0), "label_smoothing 0, generated logits above real ones"),
    Case((_logits(4, 1, 0.5), _logits(5, 1, 0.0), 0.25), "label_smoothing 0.25, a batch of one"),
    Case((_logits(6, 9, 0.0, torch.float64), _logits(7, 9, 0.5, torch.float64), 0.3),
         "label_smoothing 0.3, float64 logits"),
    Case((_logits(8, 7, 0.5), _logits(9, 5, -0.5), 0.15), "label_smoothing 0.15, 7 real images and 5 generated"),
    Case((torch.tensor([-30.0, -12.0, 0.5, 17.0, 30.0]), torch.tensor([-30.0, -17.0, -4.0, 12.0, 30.0]), 0.1),
         "label_smoothing 0.1, logits far from 0 (a D sure of itself, as early in training)"),
]
G_LOSS_CASES = [Case((_logits(1, 16, -1.0),), "generated logits below 0: D rejects them"),
                Case((_logits(3, 7, 2.0),), "generated logits above 0, a batch of 7"),
                Case((_logits(5, 1, 0.0),), "a batch of one"),
                Case((_logits(7, 9, 0.5, torch.float64),), "float64 logits"),
                Case((torch.tensor([-120.0, -40.0, -17.0, -3.0, 0.5]),),
                     "logits far below 0: D rejects the images outright, as early in training")]
# the logits a DCGAN's D gives reach +-30; past about 17, 1 - sigmoid(x) rounds to 0 in float32
UNSTABLE = ("a sigmoid, then binary_cross_entropy (or a log): it holds for moderate logits, but far from 0 the "
            "sigmoid rounds to 0 or 1 and the loss goes wrong, which is where a D sure of itself puts them: "
            "binary_cross_entropy_with_logits (or logsigmoid) works on the logits and stays exact")
D_LOSS = Signature(("logits_real", "logits_fake", "label_smoothing"), wrt=(0, 1),
                   watched=(losses.discriminator_bce, losses.NonSaturatingGAN.discriminator))
G_LOSS = Signature(("logits_fake",), wrt=(0,), watched=(losses.generator_non_saturating,
                                                       losses.NonSaturatingGAN.generator))


def check_d_loss(d_loss: Callable) -> None:
    """d_loss(logits_real, logits_fake, label_smoothing) against losses.discriminator_bce with one-sided smoothing,
    in value and in the gradient it sends into both batches of logits."""
    print(implementation_verdict("D's loss", d_loss, lambda r, f, a: losses.discriminator_bce(r, f, 1 - a),
                                 D_LOSS_CASES, D_LOSS, {
        "smoothing on both sides (the generated images' target must stay 0)":
            lambda r, f, a: losses.discriminator_bce(r, f, 1 - a, a),
        "no smoothing (the real images' target is 1 - label_smoothing)": lambda r, f, a: losses.discriminator_bce(r, f),
        "a fixed real target of 0.9 (use 1 - label_smoothing: the smoothing is an argument)":
            lambda r, f, a: losses.discriminator_bce(r, f, 0.9),
        "label_smoothing itself as the real images' target (it is 1 - label_smoothing)":
            lambda r, f, a: losses.discriminator_bce(r, f, a),
        "the wrong sign (a loss is minimised: BCE is already -log)":
            lambda r, f, a: -losses.discriminator_bce(r, f, 1 - a),
        "real and fake swapped (the real images' target is the high one)": lambda r, f, a: _bce(r, 0) + _bce(f, 1 - a),
        "the mean of the two terms (D's loss is their sum)": lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0)) / 2,
        "a sigmoid before binary_cross_entropy_with_logits (it applies the sigmoid itself: pass the logits)":
            lambda r, f, a: _bce(torch.sigmoid(r), 1 - a) + _bce(torch.sigmoid(f), 0),
        UNSTABLE: lambda r, f, a: (F.binary_cross_entropy(torch.sigmoid(r), torch.full_like(r, 1 - a))
                                   + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))),
        "sums over the batch (reduction='sum'): each term is a mean over its batch":
            lambda r, f, a: (F.binary_cross_entropy_with_logits(r, torch.full_like(r, 1 - a), reduction="sum")
                             + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f), reduction="sum")),
    }))


def check_g_loss(g_loss: Callable) -> None:
    """g_loss(logits_fake) against the non-saturating loss, in value and in the gradient it sends into the
    logits, naming the saturating loss, the wrong sign and their kin."""
    print(implementation_verdict("G's loss", g_loss, losses.generator_non_saturating, G_LOSS_CASES, G_LOSS, {
        "the saturating loss log(1 - D(G(z))) (G is to minimise -log D(G(z)))": losses.generator_saturating,
        "the wrong sign (G minimises -log D(G(z)), not log D(G(z)))": lambda f: -losses.generator_non_saturating(f),
        "a target below 1 (smoothing is for D's real images: G's target is 1)": lambda f: _bce(f, 0.9),
        "minus the mean logit (that is G's loss for hinge and WGAN: the DCGAN's G uses BCE with target 1)":
            losses.generator_mean_logit,
        "a sigmoid before binary_cross_entropy_with_logits (it applies the sigmoid itself: pass the logits)":
            lambda f: _bce(torch.sigmoid(f), 1.0),
        "a sum over the batch (reduction='sum'): the loss is a mean":
            lambda f: losses.generator_non_saturating(f, reduction="sum"),
        UNSTABLE: lambda f: F.binary_cross_entropy(torch.sigmoid(f), torch.ones_like(f)),
    }))


# --- The blocks: built by the learner, run with gan_lib's weights copied in ------------------------------------

BLOCK_CONFIG = Config(image_size=32, latent_dim=16, g_width=8, d_width=8)  # G: 32 -> 16 -> 8 channels; D: 8 -> 16 -> 32


def _initialised(*layers: nn.Module) -> nn.Sequential:
    block = nn.Sequential(*layers)
    init_weights(block)
    return block


def _block_verdict(name: str, build: Callable[[int, int], nn.Module], reference: nn.Module, side: int,
                   mistakes: Callable[..., dict[str, Callable[[], nn.Module]]], hint: str, batch: int = 4) -> str:
    """The verdict on a learner's block against gan_lib's `reference` block, fed a batch of side x side maps;
    mistakes(conv, c_in, c_out) builds the typical wrong blocks from the reference's kind of convolution."""
    conv_kind, c_in, c_out = type(reference[0]), reference[0].in_channels, reference[0].out_channels
    x = torch.randn(batch, c_in, side, side, generator=torch.Generator().manual_seed(0))

    def conv(kind: type = conv_kind, bias: bool = False) -> nn.Module:
        return kind(c_in, c_out, 4, 2, 1, bias=bias)

    return module_verdict(name, lambda: build(c_in, c_out), reference, x, mistakes(conv, c_in, c_out), hint)


def _generator_mistakes(conv, c_in, c_out):
    return {
        "a block without BatchNorm (DCGAN normalises after every layer of G but the last)":
            lambda: _initialised(conv(), nn.ReLU()),
        "a bias in the convolution (BatchNorm's shift makes it redundant: bias=False)":
            lambda: _initialised(conv(bias=True), nn.BatchNorm2d(c_out), nn.ReLU()),
        "LeakyReLU in G (DCGAN: ReLU in G, LeakyReLU(0.2) in D)":
            lambda: _initialised(conv(), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)),
        "the activation before BatchNorm (the order is convolution, BatchNorm, activation)":
            lambda: _initialised(conv(), nn.ReLU(), nn.BatchNorm2d(c_out)),
        "tanh in a middle block (tanh is G's very last layer only)":
            lambda: _initialised(conv(), nn.BatchNorm2d(c_out), nn.Tanh()),
        "a plain convolution (Conv2d shrinks; G's blocks use ConvTranspose2d to double the side)":
            lambda: _initialised(conv(nn.Conv2d), nn.BatchNorm2d(c_out), nn.ReLU()),
    }


def _discriminator_mistakes(conv, c_in, c_out):
    return {
        "a block without BatchNorm (DCGAN's D normalises every layer but the first and the last)":
            lambda: _initialised(conv(), nn.LeakyReLU(0.2)),
        "a bias in the convolution (BatchNorm's shift makes it redundant: bias=False)":
            lambda: _initialised(conv(bias=True), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)),
        "LeakyReLU's default slope 0.01 (DCGAN uses 0.2: nn.LeakyReLU(0.2))":
            lambda: _initialised(conv(), nn.BatchNorm2d(c_out), nn.LeakyReLU()),
        "ReLU in D (DCGAN: LeakyReLU(0.2) in D, so that rejected images still pass a gradient)":
            lambda: _initialised(conv(), nn.BatchNorm2d(c_out), nn.ReLU()),
        "the activation before BatchNorm (the order is convolution, BatchNorm, activation)":
            lambda: _initialised(conv(), nn.LeakyReLU(0.2), nn.BatchNorm2d(c_out)),
        "a transposed convolution (it doubles the side: D's blocks use Conv2d to halve it)":
            lambda: _initialised(conv(nn.ConvTranspose2d), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)),
    }


def _blocks_verdict(name: str, block: Callable[[int, int], nn.Module], gan_libs: Callable, sizes: tuple,
                    side: int, mistakes: Callable, hint: str) -> str:
    """The verdict on a learner's block for gan_lib's first channel counts and batch, then, if right there, for
    other channel counts and another batch size (a block with its counts written in fails there)."""
    (c_in, c_out), (other_in, other_out) = sizes
    said = _block_verdict(name, block, _initialised(*gan_libs(c_in, c_out)), side, mistakes, hint)
    if not said.endswith(": right"):
        return said
    again = _block_verdict(name, block, _initialised(*gan_libs(other_in, other_out)), side, mistakes, hint, batch=6)
    if again.endswith(": right"):
        return _shared_verdict(name, block, c_in, c_out) or again
    return again.replace(f"{name}: not yet, ", f"{name}: not yet, right for {c_in} -> {c_out} channels but not for "
                                              f"{other_in} -> {other_out} and a batch of 6: ", 1)


def _shared_verdict(name: str, block: Callable[[int, int], nn.Module], c_in: int, c_out: int) -> str | None:
    """A block builder that hands out one block per channel counts (a cache) would make a network's blocks of equal
    size one block with one set of weights: two calls must build separate layers."""
    first, second = (guarded_call(block, c_in, c_out).value for _ in range(2))
    if isinstance(first, nn.Module) and isinstance(second, nn.Module):
        if first is second or {id(p) for p in first.parameters()} & {id(p) for p in second.parameters()}:
            return (f"{name}: not yet, two calls with the same channel counts give blocks that share their weights "
                    "(a cache of built blocks?): build new layers at every call, or a network's equal blocks would be "
                    "one block")
    return None


def check_generator_block(generator_block: Callable[[int, int], nn.Module]) -> None:
    """generator_block(in_channels, out_channels) against gan_lib's (models.generator_block, what Generator stacks)."""
    with preserved_state():
        torch.manual_seed(0)
        print(_blocks_verdict("G's block", generator_block, models.generator_block, ((32, 16), (24, 40)), 4,
                              _generator_mistakes, "kernel 4, stride 2 and padding 1 double the side"))


def check_discriminator_block(discriminator_block: Callable[[int, int], nn.Module]) -> None:
    """discriminator_block(in_channels, out_channels) against gan_lib's (models.discriminator_block, which
    Discriminator stacks after its first layer)."""
    with preserved_state():
        torch.manual_seed(0)
        print(_blocks_verdict("D's block", discriminator_block, models.discriminator_block, ((8, 16), (12, 6)), 8,
                              _discriminator_mistakes, "kernel 4, stride 2 and padding 1 halve the side"))


def module_verdict(name: str, build: Callable[[], nn.Module], reference: nn.Module, x: torch.Tensor,
                   mistakes: dict[str, Callable[[], nn.Module]], shape_hint: str = "") -> str:
    """One line on a module the learner builds: 'right' when, with `reference`'s weights copied into its layers of
    the same kinds (in whatever order it defines them), it computes the same outputs, gradients and BatchNorm
    statistics on x; else the typical mistake it behaves like, or its first difference (parameters, shape)."""
    call = guarded_call(build, watched=(Generator.__init__, Discriminator.__init__, models.generator_block,
                                        models.discriminator_block))
    if call.changed:
        return f"{name}: not yet, {call.changed}"
    if call.called:
        return (f"{name}: not yet, it takes its layers from gan_lib's own {', '.join(sorted(call.called))}: build "
                "them yourself")
    if call.error is not None:
        return f"{name}: not yet, building it raised {type(call.error).__name__}: {call.error}"
    module = call.value
    if module is None:
        return f"{name}: not answered yet (fill in the function above, then run this cell again)"
    if not isinstance(module, nn.Module):
        return f"{name}: not yet, it returns a {type(module).__name__}: return the layers as one nn.Sequential"
    frozen = [key for key, p in module.named_parameters() if not p.requires_grad]
    if frozen:
        return f"{name}: not yet, its {frozen[0]} does not require grad, so it would never train"
    if not all(m.training for m in module.modules()):
        return (f"{name}: not yet, it returns the block in eval mode (.eval()): a new block is in train mode, so that "
                "its BatchNorm normalises with each batch's statistics while it trains")
    forward = guarded_call(copy.deepcopy(module).train(), x.clone())  # its forward's side effects, named
    if forward.changed:
        return f"{name}: not yet, its forward {forward.changed.removeprefix('it ')}"
    if _behaves_like(module, reference, x):
        if _behaves_like(module, _loud(reference), x):
            return f"{name}: right"
        return (f"{name}: not yet, right while its activations are small, but not with BatchNorm's scale at "
                f"{LOUD:.0f}, where they are large: an activation that caps large values (ReLU6, Hardtanh, a clamp)?")
    for mistake, make_it in mistakes.items():
        if _behaves_like(module, make_it(), x):
            return f"{name}: not yet, this looks like {mistake}"
    return f"{name}: not yet, {_first_difference(module, reference, x, shape_hint)}"


LOUD = 8.0  # BatchNorm's scale in a second comparison: activations far past 6, where a capped activation shows


def _loud(reference: nn.Module) -> nn.Module:
    """The reference block with its BatchNorm scaling by LOUD."""
    loud = copy.deepcopy(reference)
    with torch.no_grad():
        for layer in loud.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.weight.fill_(LOUD)
    return loud


def _first_difference(module: nn.Module, reference: nn.Module, x: torch.Tensor, shape_hint: str) -> str:
    count, expected = (sum(p.numel() for p in m.parameters()) for m in (module, reference))
    if count != expected:
        return f"it has {count:,} parameters where gan_lib's block has {expected:,}"
    module, reference = copy.deepcopy(module), copy.deepcopy(reference)
    try:
        out = module.train()(x.clone().requires_grad_(True))
    except Exception as exc:  # the learner's module
        return f"a batch of shape {tuple(x.shape)} {_raised(exc).removeprefix('it ')}"
    if not isinstance(out, torch.Tensor):
        return f"its forward returns a {type(out).__name__} where a tensor is expected"
    expected_shape = tuple(reference.train()(x).shape)
    if tuple(out.shape) != expected_shape:
        return f"it turns {tuple(x.shape)} into {tuple(out.shape)} where {expected_shape} is expected ({shape_hint})"
    if _copy_by_kind(module, reference):
        try:
            same = [a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
                    for a, b in zip(_behaviour(module, x), _behaviour(reference, x))]
        except Exception:  # the learner's module (an output autograd cannot follow): judged by its output alone
            same = [torch.allclose(module.train()(x), reference.train()(x), atol=1e-5)]
        if len(same) > 1 and all(same[:-1]):
            return ("its output and gradients are right, but not its output in eval mode after a training batch, "
                    "which reads BatchNorm's running statistics: a momentum or eps of its own? (DCGAN keeps "
                    "PyTorch's defaults)")
        if same[0]:
            return ("its output is right but the gradients through it are not (a .detach() or torch.no_grad() "
                    "inside, or a layer left out of the backward pass?)")
    return "with gan_lib's weights copied in its output differs: check the layers and their order"


def _stateful_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children()) and m.state_dict()]


def _copy_by_kind(module: nn.Module, other: nn.Module) -> bool:
    """Load other's weights into module's layers of the same kind, in order within each kind (a block may define
    its BatchNorm before its convolution); False when the kinds, counts or shapes differ."""
    mine, theirs = _stateful_layers(module), _stateful_layers(other)
    if sorted(type(m).__name__ for m in mine) != sorted(type(m).__name__ for m in theirs):
        return False
    for kind in {type(m) for m in mine}:
        for a, b in zip((m for m in mine if type(m) is kind), (m for m in theirs if type(m) is kind)):
            try:
                a.load_state_dict(b.state_dict())
            except Exception:  # other shapes, other tensors
                return False
    return True


def _parameters_by_kind(module: nn.Module) -> list[torch.Tensor]:
    """The parameters in the order _copy_by_kind pairs them: by layer kind, then layer, then name."""
    layers = sorted(_stateful_layers(module), key=lambda m: type(m).__name__)  # stable: keeps the order within a kind
    return [p for layer in layers for _, p in sorted(layer.named_parameters(recurse=False))]


def _behaviour(module: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Train-mode output, the gradients of a fixed projection of it with respect to x and to every parameter, and
    the eval-mode output after that pass (which reads the BatchNorm statistics it updated)."""
    x = x.clone().requires_grad_(True)
    out = module.train()(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError("not a tensor")
    projection = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    inputs = [x, *_parameters_by_kind(module)]
    grads = torch.autograd.grad((out * projection).sum(), inputs, allow_unused=True)
    with torch.no_grad():
        after = module.eval()(x)
    return [out.detach(), *(torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads)), after]


def _behaves_like(module: nn.Module, other: nn.Module, x: torch.Tensor) -> bool:
    """With other's weights copied in, the same behaviour on x (see _behaviour)."""
    module, other = copy.deepcopy(module), copy.deepcopy(other)
    if not _copy_by_kind(module, other):
        return False
    try:
        mine, theirs = _behaviour(module, x), _behaviour(other, x)
    except Exception:  # a module that cannot take x does not behave like one that can
        return False
    return all(a.shape == b.shape and torch.allclose(a, b, atol=1e-5) for a, b in zip(mine, theirs))
