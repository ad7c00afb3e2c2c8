"""Every hyperparameter in one dataclass, with our defaults: the DCGAN paper's recipe plus what measurably helped."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, fields

from .augment import parse_policy
from .losses import LOSSES
from .networks import GENERATORS
from .support.errors import GanLibError

IMAGE_SIZES = (32, 64, 128)


# the settings that one loss alone reads, and that loss (R1, r1_gamma, applies to any): from losses.LOSSES
LOSS_SETTINGS = {setting: name for name, loss in LOSSES.items() for setting in loss.settings}
MAX_STEPS = 10**9  # a run's length: more steps than any GPU trains in a month
MAX_CLASSES = 1000  # a conditional DCGAN's classes: G's first layer grows by one input per class
D_NORMS = ("auto", "batch", "layer", "instance", "none")
# (lowest, highest, why): beyond these a width or a batch needs more memory than a GPU has (a width of 256 is 4x
# DCGAN's, about 2 GB of weights at 128 px), and a seed more than torch.Generator's 64 bits
INTEGER_RANGES = {
    "latent_dim": (1, 4096, "memory"), "g_width": (1, 256, "memory"), "d_width": (1, 256, "memory"),
    "batch_size": (1, 8192, "memory"), "d_steps": (1, 100, "time"), "log_every": (1, 2**62, "a 64-bit count"),
    "sample_every": (1, 2**62, "a 64-bit count"), "checkpoint_every": (1, 2**62, "a 64-bit count"),
    "seed": (0, 2**63 - 1, "a 64-bit seed"), "mapping_layers": (1, 16, "time"),
}


@dataclass
class Config:
    """Model, optimiser and run settings; saved inside every checkpoint.

    The defaults are the recipe of the DCGAN paper (Radford et al. 2016: Adam at 2e-4 with beta1 0.5) plus what
    measurably improved it (benchmarks/quality.py): an EMA of G's weights and one-sided label smoothing.
    The paper's recipe alone is recipes.RECIPES["dcgan"].
    """

    # model
    image_size: int = 64
    latent_dim: int = 100
    g_width: int = 64  # G's channels at its last hidden layer (ngf)
    d_width: int = 64  # D's channels at its first layer (ndf)
    dense_projection: bool = False  # a variant many DCGAN ports use: G starts with a dense layer to 4x4xC
    arch: str = "dcgan"  # G's architecture: dcgan, or style (a mapping network, AdaIN, noise; D stays the DCGAN's)
    mapping_layers: int = 4  # style: the mapping network's layers (StyleGAN: 8)
    mapping_lr_mul: float = 0.01  # style: the mapping network learns at this multiple of lr_g (StyleGAN's 0.01)
    style_mixing: float = 0.9  # style: the share of training images whose later layers read another z's w
    # optimisation
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    label_smoothing: float = 0.1  # one-sided: D's target for real images is 1 - label_smoothing (DCGAN paper: 0)
    fake_label: float = 0.0  # D's target for generated images; above 0 smooths the fake side too (a known mistake)
    # beyond the DCGAN paper's recipe
    ema_decay: float = 0.99  # samples and evaluation use G's weights averaged with this decay; 0 turns it off
    augment: str = ""  # DiffAugment for D: a comma list of color, translation, cutout; "" turns it off
    spectral_norm: bool = False  # spectral normalisation on D's convolutions (D then has no BatchNorm)
    loss: str = "bce"  # bce (DCGAN: D's cross-entropy, G's non-saturating loss), hinge (SAGAN, BigGAN) or wgan-gp
    d_norm: str = "auto"  # D's normalisation: batch, layer, instance or none; auto: batch (none with spectral_norm,
    # layer with wgan-gp, whose gradient penalty is per image while BatchNorm mixes the images of a batch)
    gp_weight: float = 10.0  # wgan-gp: the gradient penalty's weight (lambda, 10 in Gulrajani et al. 2017)
    r1_gamma: float = 0.0  # R1 on D, any loss: gamma / 2 times D's squared gradient at real images; 0 turns it off
    d_steps: int = 1  # D's updates per G update (WGAN-GP's n_critic; 5 in Gulrajani et al.), each on new noise
    # a conditional DCGAN: G and D read a class label beside z and the image; "" trains an unconditional one
    condition: str = ""  # what the labels are: a synthetic face attribute (e.g. hair_color) or "folder"
    classes: tuple[str, ...] = ()  # the class names, in label order (the data's; set with condition)
    # speed: "auto" picks the fastest safe choice for the device (on the CPU: channels_last, and bf16 autocast where the
    # CPU has it natively, else fp32; resume is bit-exact either way)
    amp: str = "auto"  # mixed precision: auto, bf16, fp16 or off
    channels_last: str = "auto"  # auto (on for CPUs and CUDA GPUs, off on Apple's MPS), on or off
    fused_adam: str = "auto"  # auto, on or off
    compile: bool = False  # torch.compile G and D
    # several processes (torchrun): batch_size is the global batch, each of N processes trains on batch_size / N
    sync_batchnorm: bool = False  # BatchNorm statistics over the global batch instead of each process's share
    # run
    seed: int = 0
    log_every: int = 25  # steps between reading losses back from the device
    sample_every: int = 200  # steps between sample grids from the fixed noise
    checkpoint_every: int = 500  # steps between checkpoints (also written at the end)

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise GanLibError(f"image size {self.image_size!r} is not supported: choose one of {IMAGE_SIZES}")
        for name, (lowest, highest, why) in INTEGER_RANGES.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
                raise GanLibError(f"{name} must be an integer of at least {lowest}, got {value!r}")
            if value > highest:
                raise GanLibError(f"{name} must be at most {highest:,} ({why}), got {value:,}")
        for name in ("lr_g", "lr_d"):
            if not 0.0 < getattr(self, name) < 1.0:  # also refuses NaN
                raise GanLibError(f"{name} must be a learning rate between 0 and 1, got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise GanLibError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise GanLibError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if not 0.0 <= self.fake_label < 0.5:
            raise GanLibError(f"fake_label must be in [0, 0.5), got {self.fake_label}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise GanLibError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        for name, allowed in (("amp", ("auto", "bf16", "fp16", "off")), ("channels_last", ("auto", "on", "off")),
                              ("fused_adam", ("auto", "on", "off")), ("loss", tuple(LOSSES)), ("d_norm", D_NORMS),
                              ("arch", tuple(GENERATORS))):
            if getattr(self, name) not in allowed:
                raise GanLibError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        check_loss_settings(asdict(self))  # gp_weight with bce, say: a notebook's config too, not only the CLI's
        if self.loss == "wgan-gp" and self.discriminator_norm == "batch":
            raise GanLibError("wgan-gp's gradient penalty is per image, and BatchNorm mixes the images of a batch: "
                              "choose d_norm layer, instance or none")
        self.classes = tuple(self.classes)  # a checkpoint stores a tuple; a list from a user compares equal
        if bool(self.condition) != bool(self.classes):
            raise GanLibError("a conditional DCGAN needs both condition and classes (the data's: Config(condition=..., "
                              "classes=data.classes)); an unconditional one neither")
        if self.classes and not (2 <= len(self.classes) <= MAX_CLASSES
                                 and all(isinstance(c, str) and c for c in self.classes)
                                 and len(set(self.classes)) == len(self.classes)):
            raise GanLibError(f"classes must be 2 to {MAX_CLASSES:,} distinct non-empty names, got {len(self.classes)}")
        if not 0.0 < self.mapping_lr_mul <= 1.0:
            raise GanLibError(f"mapping_lr_mul must be in (0, 1], got {self.mapping_lr_mul}")
        if not 0.0 <= self.style_mixing <= 1.0:
            raise GanLibError(f"style_mixing must be a probability in [0, 1], got {self.style_mixing}")
        if self.arch == "style" and self.classes:
            raise GanLibError("the style-based generator is unconditional here: drop --conditional, or train a "
                              "conditional DCGAN (--arch dcgan)")
        for name in ("gp_weight", "r1_gamma"):
            if not 0.0 <= getattr(self, name) < 1e6:
                raise GanLibError(f"{name} must be in [0, 1e6), got {getattr(self, name)}")
        check_loss_settings(vars(self))
        parse_policy(self.augment)

    @property
    def discriminator_norm(self) -> str:
        """d_norm with auto resolved: batch, but none under spectral normalisation and layer for wgan-gp."""
        if self.d_norm != "auto":
            return self.d_norm
        return "none" if self.spectral_norm else "layer" if self.loss == "wgan-gp" else "batch"

    @property
    def conditional(self) -> bool:
        return bool(self.classes)

    def to_dict(self) -> dict:
        return asdict(self)

    def differing(self, wanted: dict) -> dict:
        """The settings in `wanted` (name -> value) that differ from this config's."""
        return {name: value for name, value in wanted.items() if getattr(self, name) != value}

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Build from a dict, ignoring keys this version does not know (older or newer checkpoints) and a setting its
        loss does not use (an older gan_lib could save one: it had no effect, and is left at its default)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        unused = _unused_loss_settings(values)
        return cls(**{k: v for k, v in values.items() if k not in unused})


def _unused_loss_settings(values: dict, named: Collection[str] = ()) -> list[str]:
    """The settings in `values` that their loss does not use (LOSS_SETTINGS) and that are not 0 (off): those in
    `named` (given by name: a recipe's, the command line's) at any other value, the rest where not at the default."""
    loss = values.get("loss", Config.loss)
    return [name for name, owner in LOSS_SETTINGS.items() if name in values and loss != owner and values[name] != 0
            and (name in named or values[name] != getattr(Config, name))]


def check_loss_settings(values: dict, named: Collection[str] = ()) -> None:
    """Refuse, in one line, a setting that the loss of `values` does not use (see _unused_loss_settings)."""
    if unused := _unused_loss_settings(values, named):
        name = unused[0]
        raise GanLibError(f"{name} {values[name]:g} applies to loss {LOSS_SETTINGS[name]} only, and this run trains "
                          f"with loss {values.get('loss', Config.loss)}: drop it (--{name.replace('_', '-')}) or set "
                          "it to 0")
