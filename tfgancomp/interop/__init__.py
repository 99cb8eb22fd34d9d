"""Import trained PyTorch generators (pix2pix / CycleGAN, GAN Compression, GauGAN checkpoints) into the model zoo."""

from __future__ import annotations

import dataclasses

from tfgancomp.interop.checkpoint import TORCH_INSTALL, CheckpointError, read_state_dict
from tfgancomp.interop.layouts import IMPORTABLE, Inferred, fill_from_state_dict, infer_architecture
from tfgancomp.validation import check_choice


@dataclasses.dataclass(frozen=True)
class Imported:
    """A filled Keras generator and what the checkpoint said about it.

    Attributes:
        model: The Keras generator (a zoo model), in inference mode (dropout off, batch-norm statistics used).
        inferred: What ``arch="auto"`` read from the keys and shapes (also computed for a named ``arch``).
        arch: The architecture built.
        kwargs: Its constructor arguments (inferred, then overridden by the caller's).
    """

    model: object
    inferred: Inferred
    arch: str
    kwargs: dict


def _build_kwargs(inferred: Inferred, arch: str, arch_kwargs: dict) -> dict:
    """The inferred arguments (when ``arch`` is the inferred one), then the caller's on top."""
    kwargs = {**inferred.kwargs, **inferred.assumed} if inferred.arch == arch else {}
    if arch_kwargs.get("instance") and "label_nc" in kwargs and "label_nc" not in arch_kwargs:
        kwargs["label_nc"] -= 1  # SPADE's input is label_nc + 1 channels: the last one is the instance edge
    return {**kwargs, **arch_kwargs}


def load_pytorch(source, arch: str = "auto", height: int | None = None, width: int | None = None,
                 name: str = "generator", **arch_kwargs) -> Imported:  # fmt: skip
    """Build the zoo generator of a PyTorch state dict and fill it; see :func:`from_pytorch`."""
    from tfgancomp.models import build_model

    check_choice("arch", arch, ("auto", *IMPORTABLE))
    where = str(source) if not isinstance(source, dict) else "the state dict"
    state = read_state_dict(source)
    try:
        inferred = infer_architecture(state)
    except CheckpointError as err:
        if arch == "auto":
            raise CheckpointError(f"{where}: {err}") from None
        inferred = Inferred(arch, {})
    chosen = inferred.arch if arch == "auto" else arch
    kwargs = _build_kwargs(inferred, chosen, arch_kwargs)
    try:
        model = build_model(chosen, height=height, width=width, name=name, **kwargs)
    except ValueError as err:
        raise CheckpointError(f"{where}: cannot build {chosen} with {kwargs}: {err}") from None
    fill_from_state_dict(model, state, where)
    return Imported(model, inferred, chosen, kwargs)


def from_pytorch(state_dict_or_path, arch: str = "auto", height: int | None = None, width: int | None = None,
                 name: str = "generator", **arch_kwargs):  # fmt: skip
    """A Keras generator with the weights of a PyTorch checkpoint of a reference generator.

    Reads ``.pth`` / ``.pt`` files with ``torch.load(weights_only=True)`` (stored code never runs) and
    ``.safetensors`` files without PyTorch; accepts an in-memory state dict too. ``arch="auto"`` reads the
    architecture and its arguments (``ngf``, blocks, dropout layout, norm, sub-mobile configuration string, SPADE
    hidden width) from the key names and shapes; arguments no weight depends on (GauGAN's upsampling count and
    instance-edge channel, dropout rates) take the reference defaults unless given in ``arch_kwargs``.

    Args:
        state_dict_or_path: A file path or a ``{name: tensor}`` dict.
        arch: ``"auto"`` or one of :data:`IMPORTABLE`.
        height: Fixed input height of the Keras model (``None``: any multiple of its stride).
        width: Fixed input width.
        name: Model name (prefix of every layer name).
        **arch_kwargs: Constructor arguments that override the inferred ones (``ngf``, ``config``, ``instance``...).

    Returns:
        The filled generator. Its output matches the PyTorch module's in ``eval()`` mode.

    Raises:
        CheckpointError: a missing or unreadable file, a pickle that safe loading refuses, keys that are not a
            reference generator's, or — naming each — a missing key, an unexpected key, a tensor whose shape differs
            from the architecture's (both shapes given). Nothing is half-filled.
    """
    return load_pytorch(state_dict_or_path, arch, height, width, name, **arch_kwargs).model


__all__ = [
    "IMPORTABLE",
    "TORCH_INSTALL",
    "CheckpointError",
    "Imported",
    "Inferred",
    "fill_from_state_dict",
    "from_pytorch",
    "infer_architecture",
    "load_pytorch",
    "read_state_dict",
]
