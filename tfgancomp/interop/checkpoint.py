"""Read a PyTorch state dict safely: ``torch.load(weights_only=True)`` or safetensors, into NumPy arrays."""

from __future__ import annotations

import os
import pickle
import re
import warnings

import numpy as np

#: How to install the optional PyTorch dependency (a bare ``pip install torch`` pulls the CUDA build).
TORCH_INSTALL = (
    "pip install 'tfgancomp[torch]' (or only PyTorch's CPU build: pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu)"
)
#: Keys under which training scripts often nest the generator's state dict.
NESTED_KEYS = ("state_dict", "model", "netG", "netG_A", "generator", "G", "params_ema")
#: Buffers that carry no value for inference.
IGNORED_SUFFIXES = ("num_batches_tracked",)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the architecture; the message names the file or tensor."""


def _torch():
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"reading a PyTorch checkpoint needs PyTorch, which is not installed: {TORCH_INSTALL}"
        ) from None
    return torch


def _to_numpy(value, key: str, source: str) -> np.ndarray:
    torch = _torch()
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor")
    if not value.is_floating_point():
        raise CheckpointError(f"{source}: tensor {key!r} has dtype {value.dtype}, expected a floating-point tensor")
    return value.detach().to("cpu", torch.float64).numpy()


def _unnest(data, source: str):
    """The tensor dict inside ``data``: itself, or one level down under a usual key (``state_dict``, ``netG``...)."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{source} holds a {type(data).__name__}, not a state dict (a dict of tensors)")
    for key in NESTED_KEYS:
        if isinstance(data.get(key), dict) and not any(_is_tensor(v) for v in data.values()):
            return data[key]
    return data


def _is_tensor(value) -> bool:
    return type(value).__name__ in ("Tensor", "Parameter", "ndarray")


def strip_prefixes(state: dict) -> dict:
    """Remove DataParallel's ``module.`` (and ``torch.compile``'s ``_orig_mod.``) prefixes."""
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def _read_safetensors(path: str) -> dict:
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
    except ImportError:
        raise CheckpointError(f"reading {path} needs the safetensors package: pip install 'tfgancomp[torch]'") from None
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file ({err})") from None


def _read_torch(path: str) -> dict:
    torch = _torch()
    with open(path, "rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch.save's zip archive, or a legacy pickle
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (neither torch.save's zip archive nor a pickle) "
                              "nor a .safetensors file")  # fmt: skip
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then reads or refuses
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = " ".join(str(err).split())
        if "weights_only" not in text and "Weights only load failed" not in text:
            raise CheckpointError(f"{path} is not a PyTorch checkpoint ({text[:200]})") from None
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        reason = f"it stores a {found.group(1)} object" if found else text[:200]
        raise CheckpointError(
            f"{path} holds Python objects that safe loading (torch.load weights_only=True) refuses: {reason}; only "
            "plain state dicts are read: save one with torch.save(model.state_dict(), path)"
        ) from None
    except Exception as err:  # noqa: BLE001 - a damaged archive or pickle fails in many ways inside torch
        text = " ".join(str(err).split()).split(". ")[0][:200]
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: {text})") from None


def read_state_dict(source) -> dict[str, np.ndarray]:
    """A generator's weights as ``{key: float64 array}``, from a file or an in-memory state dict.

    ``.safetensors`` files are read with safetensors (no PyTorch needed); anything else with
    ``torch.load(..., weights_only=True)``, which never runs code stored in the file. A dict nesting the weights
    under a usual key (``state_dict``, ``netG``, ...) is opened; DataParallel's ``module.`` prefixes are removed;
    ``num_batches_tracked`` counters are dropped.

    Raises:
        CheckpointError: naming the file and the reason (missing, not a checkpoint, Python objects refused, a
            non-tensor entry).
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise CheckpointError(f"checkpoint {path} does not exist or is not a file")
        with open(path, "rb") as f:
            head = f.read(16)
        if not head:
            raise CheckpointError(f"{path} is empty, not a checkpoint")
        data = _read_safetensors(path) if path.endswith(".safetensors") else _read_torch(path)
        where = path
    else:
        data, where = source, "the state dict"
    state = strip_prefixes(_unnest(data, where))
    out = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{where}: key {key!r} is not a string; expected a state dict")
        if key.endswith(IGNORED_SUFFIXES):
            continue
        if isinstance(value, np.ndarray):
            if not np.issubdtype(value.dtype, np.floating):
                raise CheckpointError(f"{where}: tensor {key!r} has dtype {value.dtype}, expected floating point")
            out[key] = value.astype(np.float64)
        else:
            out[key] = _to_numpy(value, key, where)
    if not out:
        raise CheckpointError(f"{where} holds no tensors")
    return out
