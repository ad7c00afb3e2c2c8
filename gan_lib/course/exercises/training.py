"""Notebook 03's implement-it checks: the training step, run beside `Trainer.train_step` from the same weights,
batches and noise, and the EMA of G's weights, beside the Trainer's own."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from ... import losses
from ...config import Config
from ...data.loading import ImageSet
from ...train import Trainer, dcgan_step
from .guard import guarded_call, preserved_state
from .verdicts import NOT_ANSWERED, _first_mismatch, _raised, _short

# label_smoothing 0.2, not the default 0.1, so that a hard-coded 0.9 cannot pass for 1 - label_smoothing
STEP_CONFIG = Config(image_size=32, latent_dim=16, g_width=8, d_width=8, batch_size=8, amp="off",
                     channels_last="off", fused_adam="off", ema_decay=0.9, label_smoothing=0.2)
STEPS = 4  # at least: some mistakes only show from the second step on; each check runs 4 to 6 steps, drawn afresh


LOUD = 30.0  # D's last layer this many times larger: gradients far above any clipping threshold a learner may add


def _trainer(loud: bool = False) -> Trainer:
    images = torch.randint(0, 256, (4 * STEP_CONFIG.batch_size, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    trainer = Trainer(STEP_CONFIG, ImageSet(images, "random images"), device="cpu")
    if loud:
        last = [m for m in trainer.D.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        with torch.no_grad():
            last.weight.mul_(LOUD)
    return trainer


def _state(trainer: Trainer, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Every weight of G and D, G's BatchNorm statistics, G's gradients and each optimiser's average gradient. D's
    statistics are left out: D only ever runs in train mode, where BatchNorm never reads them, and they depend on
    whether D sees the real or the fake batch first, which training does not."""
    state = {**{f"G's {k}": v.clone() for k, v in trainer.G.state_dict().items()},
             **{f"D's {k}": v.detach().clone() for k, v in trainer.D.named_parameters()}}
    # G's gradients as its update left them (a step that clears them afterwards leaves none to compare), and the
    # gradients each optimiser was given (Adam's running average of them): a loss scaled, halved or clipped before
    # its optimiser's step moves Adam's weights as the right one does, but not the gradients it averages
    grads = {f"G's gradient of {k}": p.grad.detach().clone() for k, p in trainer.G.named_parameters()
             if p.grad is not None}
    averaged = {f"{net}'s gradient as its optimiser averaged it, of {k}": optimizer.state[p]["exp_avg"].clone()
                for net, model, optimizer in (("G", trainer.G, opt_g), ("D", trainer.D, opt_d))
                for k, p in model.named_parameters() if "exp_avg" in optimizer.state.get(p, {})}
    return state | averaged | (grads if any(g.any() for g in grads.values()) else {})


def reference_run(steps: int = STEPS, loud: bool = False) -> list[tuple[list[float], dict[str, torch.Tensor]]]:
    """(loss_d, loss_g) and every weight of G and D and G's BatchNorm statistics after each of
    Trainer.train_step's first `steps` steps (with D's last layer LOUD times larger if `loud`)."""
    trainer, run = _trainer(loud), []
    for _ in range(steps):
        stats = trainer.train_step(trainer.batches.batch(trainer.step))
        trainer.step += 1
        run.append((stats[:2].tolist(), _state(trainer, trainer.opt_g, trainer.opt_d)))
    return run


class StepProblem(Exception):
    """What makes a learner's step impossible to compare (not answered, a junk return, a changed global state)."""


def _loss_value(loss: object, which: str) -> float:
    """A returned loss as a number: a tensor of one element or a plain number (only its value is compared here)."""
    if isinstance(loss, torch.Tensor) and loss.numel() == 1 and not loss.is_complex():
        return float(loss.detach())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    kind = f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else f"a {type(loss).__name__}"
    raise StepProblem(f"its {which} is {kind} where one number is expected (the batch's mean loss)")


def learner_run(train_step: Callable, steps: int = STEPS,
                loud: bool = False) -> list[tuple[list[float], dict[str, torch.Tensor]]]:
    """The same with the learner's train_step(G, D, opt_g, opt_d, real, z, label_smoothing) -> (loss_d, loss_g),
    given copies of the Trainer's models, optimisers like its own, and its batches and noise; raises StepProblem
    for what cannot be compared."""
    trainer, run = _trainer(loud), []
    cfg = trainer.cfg
    opt_g = torch.optim.Adam(trainer.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(trainer.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    for step in range(steps):
        call = guarded_call(train_step, trainer.G, trainer.D, opt_g, opt_d, trainer.batches.batch(step),
                            trainer.latents(step), cfg.label_smoothing, backward=True,
                            watched=(dcgan_step, Trainer.train_step))
        if call.changed:  # named first, even over what it raised: it may be why
            raise StepProblem(call.changed)
        if call.called:
            raise StepProblem(f"it calls gan_lib's own {', '.join(sorted(call.called))}, which is the answer: write "
                              "the step yourself")
        if call.error is not None:
            raise call.error
        if not (trainer.G.training and trainer.D.training):
            raise StepProblem("it leaves G or D in eval mode after the step (.eval()): the next step would train "
                              "with BatchNorm's running statistics; leave both in train mode")
        returned = call.value
        if returned is None:
            raise StepProblem(NOT_ANSWERED)
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise StepProblem(f"it returns {_kind(returned)} where the pair (loss_d, loss_g) is expected")
        run.append(([_loss_value(loss, which) for loss, which in zip(returned, ("loss_d", "loss_g"))],
                    _state(trainer, opt_g, opt_d)))
    return run


def _kind(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def step_verdict(train_step: Callable, mistakes: dict[str, Callable] | None = None) -> str:
    """One line on the learner's training step: 'right' when its losses and every weight match Trainer.train_step's
    after the first and the third step; else the typical mistake it matches, or its first difference. The
    notebook's global state is left as it was."""
    with preserved_state():
        return _step_verdict(train_step, STEP_MISTAKES if mistakes is None else mistakes)


def _step_verdict(train_step: Callable, mistakes: dict[str, Callable]) -> str:
    name = "The training step"
    steps = STEPS + int.from_bytes(os.urandom(1), "little") % 3  # drawn: an answer right for a few calls is caught
    try:
        run = learner_run(train_step, steps)
    except StepProblem as problem:
        said = str(problem)
        return f"{name}: {said}" if said == NOT_ANSWERED else f"{name}: not yet, {said}"
    except RuntimeError as exc:
        if "backward through the graph a second time" in str(exc):
            return (f"{name}: not yet, G's update ran backward through G a second time: D's update must use "
                    "fake.detach(), so that its backward stops at D")
        return f"{name}: not yet, {_raised(exc)}"
    except (Exception, SystemExit) as exc:  # the learner's code: reported, never re-raised
        return f"{name}: not yet, {_raised(exc)}"
    reference = reference_run(steps)
    if _same_run(run, reference):
        return f"{name}: {_when_loud(train_step) or 'right'}"
    for mistake, make_it in mistakes.items():
        if _same_run(run, learner_run(make_it, steps)):
            return f"{name}: not yet, this looks like {mistake}"
    return f"{name}: not yet, {_first_difference(run, reference)}"


def _when_loud(train_step: Callable) -> str | None:
    """A step right at the start's small gradients, run again with D's last layer LOUD times larger: a gradient
    clipped or capped above some size shows there (the message, like a drawn case's, gives no expected value)."""
    try:
        run = learner_run(train_step, 2, loud=True)
    except (Exception, SystemExit) as exc:  # the learner's code: reported, never re-raised
        return f"not yet, right at the start's gradients but {_raised(exc)} when they are large"
    if _same_run(run, reference_run(2, loud=True), tolerance=1e-4):
        return None
    return (f"not yet, right while the gradients are small, but not with D's last layer {LOUD:.0f} times larger, "
            "where they are large: a gradient clipped, capped or rescaled? Each loss goes to backward and its "
            "optimiser as it is")


def check_train_step(train_step: Callable) -> None:
    """Print the verdict on the learner's training step (notebook 03)."""
    print(step_verdict(train_step))


AVERAGED = "gradient as its optimiser averaged it"


def _compared(state: dict, reference_state: dict) -> list[str]:
    """What to compare: all the reference holds, but G's gradients only where the step left some (a step may clear
    them at its end)."""
    return [k for k in reference_state if k in state or not k.startswith("G's gradient of")]


def _same_run(run: list, other: list, tolerance: float = 1e-5) -> bool:
    return all(torch.allclose(torch.tensor(a[0]), torch.tensor(b[0]), atol=tolerance)
               and all(k in a[1] and torch.allclose(a[1][k].double(), b[1][k].double(), atol=tolerance)
                       for k in _compared(a[1], b[1]))
               for a, b in zip(run, other))


def _first_difference(run: list, reference: list, tolerance: float = 1e-5) -> str:
    for step, ((got, state), (expected, reference_state)) in enumerate(zip(run, reference), 1):
        for loss, a, b in zip(("loss_d", "loss_g"), got, expected):
            if abs(a - b) > tolerance:
                return f"at step {step} {loss} is {a:.5f} where Trainer.train_step has {b:.5f}"
        keys = _compared(state, reference_state)
        for key in keys:
            if key not in state:
                owner = key.split(AVERAGED)[0]
                return f"after step {step} {owner}optimiser has taken no step (its .step() is missing?)"
            if torch.allclose(state[key].double(), reference_state[key].double(), atol=tolerance):
                continue
            if AVERAGED in key and all(torch.allclose(state[k].double(), reference_state[k].double(), atol=tolerance)
                                       for k in keys if k in state and AVERAGED not in k and "gradient" not in k):
                return (f"its weights match after step {step}, but not the gradients {key.split(AVERAGED)[0]}optimiser "
                        "was given: a loss scaled, halved or clipped before backward (Adam hides a uniform scale in "
                        "the weights, not in its averages); each loss goes to backward as it is")
            return (f"after step {step} {key} is {_short(state[key])} where Trainer.train_step has "
                    f"{_short(reference_state[key])}")
    return "it differs from Trainer.train_step"


# --- The typical mistakes, each a whole step that makes one ---------------------------------------------------

def _bce_d(logits_real, logits_fake, smoothing, fake_label=0.0):
    return losses.discriminator_bce(logits_real, logits_fake, 1 - smoothing, fake_label)


def _no_detach_zeroed_first(G, D, opt_g, opt_d, real, z, smoothing):
    opt_d.zero_grad(), opt_g.zero_grad()
    fake = G(z)
    loss_d = _bce_d(D(real), D(fake), smoothing)
    loss_d.backward(retain_graph=True)  # D's loss also reaches G's gradients
    opt_d.step()
    loss_g = losses.generator_non_saturating(D(fake))
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g


def _step(zero: str = "before backward", g_loss=losses.generator_non_saturating, fake_label: float = 0.0,
          smoothing: float | None = None, g_first: bool = False, g_twice: bool = False, one_batch: bool = False):
    """A training step with one thing changed (the defaults make the right step)."""
    def update(optimizer, loss):
        if zero == "before backward":
            optimizer.zero_grad()
        loss.backward()
        if zero == "after backward":
            optimizer.zero_grad()
        optimizer.step()

    def step(G, D, opt_g, opt_d, real, z, label_smoothing):
        a = label_smoothing if smoothing is None else smoothing
        fake = G(z)

        def d_update():
            if one_batch:
                logits = D(torch.cat([real, fake.detach()]))
                logits_real, logits_fake = logits[:len(real)], logits[len(real):]
            else:
                logits_real, logits_fake = D(real), D(fake.detach())
            loss = _bce_d(logits_real, logits_fake, a, fake_label)
            update(opt_d, loss)
            return loss

        def g_update():
            loss = g_loss(D(G(z) if g_twice else fake))
            update(opt_g, loss)
            return loss

        if g_first:
            loss_g = g_update()
            return d_update(), loss_g
        loss_d = d_update()
        return loss_d, g_update()

    return step


STEP_MISTAKES = {
    "D's loss reaching G: without fake.detach() in D's update, G's gradients also hold D's loss (and zero_grad "
    "called only at the start of the step does not clear them)": _no_detach_zeroed_first,
    "zero_grad never called: gradients add up from step to step (the first step is right, the next are not)":
        _step(zero="never"),
    "zero_grad between backward and step: the gradients are wiped before the optimiser uses them (nothing learns)":
        _step(zero="after backward"),
    "G trained against D as it was before D's update (G updated first, or G's loss through a copy of D kept from "
    "before opt_d.step()): DCGAN updates D first, then G against the D just updated": _step(g_first=True),
    "the saturating G loss log(1 - D(G(z))) (use -log D(G(z)): losses.generator_non_saturating)":
        _step(g_loss=losses.generator_saturating),
    "smoothing on both sides (the generated images' target stays 0)": _step(fake_label=0.1),
    "no smoothing (the real images' target is 1 - label_smoothing)": _step(smoothing=0.0),
    "a fixed real target of 0.9 (use 1 - label_smoothing: the step is given the smoothing, 0.2 here)":
        _step(smoothing=0.1),
    "G run twice in one step: its BatchNorm statistics move twice (reuse the fake images of D's update)":
        _step(g_twice=True),
    "real and generated images through D in one batch: BatchNorm then mixes their statistics (DCGAN keeps the "
    "batches apart)": _step(one_batch=True),
}


# --- The EMA of G's weights -------------------------------------------------------------------------------------

def ema_verdict(ema_update: Callable) -> str:
    """One line on the learner's ema_update(average, weights, decay) -> new average, applied to G's weights after
    steps 2 and 3 of a Trainer, beside the Trainer's own EMA (which starts as a copy of G at step 1). The update
    may change `average` in place, as torch's own EMA does, if it also returns it."""
    with preserved_state():
        return _ema_verdict(ema_update)


def _ema_verdict(ema_update: Callable) -> str:
    name, trainer = "The EMA", _trainer()
    trainer.train_step(trainer.batches.batch(0))
    trainer.step = 1
    averages = {k: v.detach().clone() for k, v in trainer.G.named_parameters()}
    decay = trainer.cfg.ema_decay
    swapped = dict(averages)
    start = dict(averages)
    fixed = {d: dict(averages) for d in (0.999, 0.99)}  # decays a learner may hard-code
    for step in (1, 2):
        trainer.train_step(trainer.batches.batch(step))
        trainer.step += 1
        weights = {k: v.detach().clone() for k, v in trainer.G.named_parameters()}
        updated = {}
        for key in weights:
            average, own = averages[key].clone(), weights[key].clone()
            call = guarded_call(ema_update, average, own, decay)
            if call.changed or call.error is not None:
                return f"{name}: not yet, {call.changed or _raised(call.error)}"
            value = call.value
            if not torch.equal(own, weights[key]):
                return (f"{name}: not yet, it changes `weights` in place: those are G's own weights, which go on "
                        "training; only the average may change")
            if value is None:
                if not torch.equal(average, averages[key]):
                    return (f"{name}: not yet, it changes `average` in place but returns None: return the new "
                            "average too")
                return f"{name}: {NOT_ANSWERED}"
            if not isinstance(value, torch.Tensor) or value.shape != weights[key].shape:
                shape = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else _kind(value)
                return (f"{name}: not yet, for G's {key} it returns {shape} where a tensor of shape "
                        f"{tuple(weights[key].shape)}, like the weights, is expected")
            if value.dtype != weights[key].dtype:
                return (f"{name}: not yet, it returns {value.dtype} where {weights[key].dtype}, the weights' dtype, "
                        "is expected")
            updated[key] = value.detach()
        averages = updated
        swapped = {k: (1 - decay) * swapped[k] + decay * weights[k] for k in weights}
        fixed = {d: {k: d * fixed[d][k] + (1 - d) * weights[k] for k in weights} for d in fixed}
    expected = {k: v.detach() for k, v in trainer.ema.module.named_parameters()}
    if all(torch.allclose(averages[k], expected[k], atol=1e-6) for k in expected):
        return f"{name}: {_at_other_decays(ema_update, decay) or 'right'}"
    if all(torch.allclose(averages[k], swapped[k], atol=1e-6) for k in expected):
        return (f"{name}: not yet, this looks like decay and 1 - decay swapped: the average keeps `decay` of itself "
                "and takes 1 - decay of the new weights")
    if all(torch.allclose(averages[k], weights[k], atol=1e-6) for k in expected):
        return f"{name}: not yet, this looks like the new weights themselves: the average must keep `decay` of itself"
    if all(torch.equal(averages[k], start[k]) for k in expected):
        return f"{name}: not yet, it returns the average as it was: the new one takes in 1 - decay of the weights"
    for d, average in fixed.items():
        if all(torch.allclose(averages[k], average[k], atol=1e-6) for k in expected):
            return f"{name}: not yet, this looks like a fixed decay of {d}: use the `decay` it is given ({decay} here)"
    key = next(k for k in expected if not torch.allclose(averages[k], expected[k], atol=1e-6))
    return f"{name}: not yet, after two updates G's {key} {_first_mismatch(averages[key], expected[key], 1e-6)}"


def _at_other_decays(ema_update: Callable, checked: float) -> str | None:
    """An update right at the Trainer's decay, tried at 0.99 (the config's default), at 0.999 (the clinic's slow
    average) and at a decay drawn afresh from [0.95, 0.9999) on other weights: where it is off, without the expected
    average."""
    rng = torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
    for decay in (0.99, 0.999, 0.95 + 0.0499 * torch.rand((), generator=rng, dtype=torch.float64).item()):
        average, weights = torch.randn(3, 5, generator=rng), torch.randn(3, 5, generator=rng)
        expected = decay * average + (1 - decay) * weights
        call = guarded_call(ema_update, average.clone(), weights.clone(), decay)
        value = call.value
        if (call.changed or call.error is not None or not isinstance(value, torch.Tensor)
                or value.shape != expected.shape or not torch.allclose(value.detach(), expected, atol=1e-6)):
            return (f"not yet, right at decay {checked} but not at decay {decay:.4g} (the config's default is 0.99): "
                    "use the `decay` it is given, whatever its value")
    average, weights = (torch.randn(4, generator=rng, dtype=torch.float64) for _ in range(2))
    value = guarded_call(ema_update, average.clone(), weights.clone(), 0.99).value
    if isinstance(value, torch.Tensor) and value.dtype != torch.float64:
        return (f"not yet, for float64 weights it returns {value.dtype}: the average keeps the weights' dtype (no "
                ".float() or fixed dtype)")
    return None


def check_ema(ema_update: Callable) -> None:
    """Print the verdict on the learner's EMA update (notebook 03)."""
    print(ema_verdict(ema_update))
