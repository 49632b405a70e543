"""The bridge between gymnasium spaces and a free network's vectors.

An :class:`ObservationEncoder` turns a batch of observations into input vectors, and an
:class:`ActionDecoder` turns a batch of output vectors into actions the environment accepts.
Both describe themselves as plain JSON, so a saved agent can be run without rlfree.

Encodings (``--obs-encoding``):

- ``flat``: a Box observation flattened to floats (the default for Box);
- ``onehot``: a Discrete or MultiDiscrete observation as one-hot vectors (the default for
  them; the seed's ``net_input_add_onehot``);
- ``bins:K``: every dimension of a bounded Box cut into K equal bins over [low, high], each
  given as a one-hot vector. Grid coordinates scaled to [0, 1] become exact one-hots.

Action mapping by space: ``Discrete(n)`` -> argmax of n outputs; ``MultiDiscrete`` -> argmax
per group; bounded ``Box`` -> one of three ``box_mapping``s:

- ``"linear"``, for outputs that are already bounded (tanh and softsign in [-1, 1], sigmoid and
  softmax in [0, 1]): that range maps straight onto [low, high]. Squashing such an output with
  tanh again would never reach past tanh(1) = 76% of the bounds;
- ``"tanh"``, for unbounded outputs (relu, identity, elu): ``low + (tanh(out) + 1) / 2 * (high - low)``.
  Agents saved before ``box_mapping`` existed used it whatever their activation, and load so;
- ``"clip"``: the outputs themselves, clipped to [low, high], as ARS (Mania et al. 2018) acts with
  its linear policy. With an identity activation an output inside the bounds is the action itself.

``"linear"`` and ``"tanh"`` are what ``--action-mapping auto`` picks for bounded and unbounded
outputs; :data:`ACTION_MAPPINGS` is what the option accepts.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from rlfree.errors import UserError


class UnsupportedSpaceError(UserError, ValueError):
    """A gymnasium space that a free network cannot read or drive."""


class ObservationEncoder:
    """Raw observations (N, *obs_shape) -> network inputs (N, I) of a float dtype."""

    def __init__(self, space: gym.Space, encoding: str = "auto"):
        self.space = space
        if encoding == "auto":
            encoding = "onehot" if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)) else "flat"
        self.encoding = encoding
        if isinstance(space, spaces.Box):
            dims = int(np.prod(space.shape)) if space.shape else 1
            if encoding == "flat":
                self.size = dims
            elif encoding.startswith("bins:"):
                bins = _parse_bins(encoding)
                low, high = space.low.reshape(-1).astype(np.float64), space.high.reshape(-1).astype(np.float64)
                if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                    raise UnsupportedSpaceError(
                        f"obs encoding {encoding!r} needs a bounded Box observation; got {space} (use 'flat')"
                    )
                self.bins, self.low, self.high = bins, low, high
                self.size = dims * bins
            else:
                raise UnsupportedSpaceError(
                    f"obs encoding {encoding!r} is not accepted for a Box observation; use 'flat' or 'bins:K'"
                )
        elif isinstance(space, spaces.Discrete):
            if encoding != "onehot":
                raise UnsupportedSpaceError(f"obs encoding {encoding!r} is not accepted for {space}; use 'onehot'")
            self.sizes = [int(space.n)]
            self.starts = [int(space.start)]
            self.size = int(space.n)
        elif isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
            if encoding != "onehot":
                raise UnsupportedSpaceError(f"obs encoding {encoding!r} is not accepted for {space}; use 'onehot'")
            self.sizes = [int(n) for n in space.nvec]
            self.starts = [int(s) for s in space.start]
            self.size = int(sum(self.sizes))
        else:
            raise UnsupportedSpaceError(
                f"observation space {space} is not supported; accepted: Box, Discrete, 1-D MultiDiscrete"
            )
        self._tensors: dict[tuple, tuple[torch.Tensor, ...]] = {}

    def __call__(self, obs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """obs: (N, *obs_shape) -> (N, I) ``dtype``."""
        n = obs.shape[0]
        if self.encoding == "flat":
            return obs.reshape(n, self.size).to(dtype)
        if self.encoding == "onehot":
            codes = obs.reshape(n, len(self.sizes)).to(torch.int64)
            parts = [
                torch.nn.functional.one_hot(codes[:, i] - start, size).to(dtype)
                for i, (size, start) in enumerate(zip(self.sizes, self.starts))
            ]
            return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        low, width = self._bin_tensors(obs.device)
        x = obs.reshape(n, -1).to(torch.float64)
        # a value exactly at `high` belongs to the last bin, hence the clamp
        index = ((x - low) / width).floor().clamp_(0, self.bins - 1).to(torch.int64)
        return torch.nn.functional.one_hot(index, self.bins).reshape(n, self.size).to(dtype)

    def _bin_tensors(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = ("bins", str(device))
        if key not in self._tensors:
            low = torch.as_tensor(self.low, device=device)
            width = torch.as_tensor((self.high - self.low) / self.bins, device=device)
            self._tensors[key] = (low, width)
        return self._tensors[key]

    def to_json(self) -> dict:
        data = {"encoding": self.encoding, "size": self.size}
        if self.encoding == "onehot":
            data.update(sizes=self.sizes, starts=self.starts)
        elif self.encoding.startswith("bins:"):
            data.update(bins=self.bins, low=self.low.tolist(), high=self.high.tolist())
        return data


def _parse_bins(encoding: str) -> int:
    try:
        bins = int(encoding.split(":", 1)[1])
    except ValueError:
        bins = 0
    if bins < 2:
        raise UnsupportedSpaceError(f"obs encoding {encoding!r} is not accepted: use 'bins:K' with a whole K >= 2")
    return bins


BOX_MAPPINGS = ("linear", "tanh", "clip")
ACTION_MAPPINGS = ("auto", *BOX_MAPPINGS)  # --action-mapping; auto: linear for bounded outputs, else tanh


class ActionDecoder:
    """Network outputs (N, n_outputs) -> actions (N, *act_shape) for the action space.

    box_mapping, output_range: how a Box action is made of outputs (module docstring); the
    range is the outputs' own, for "linear".
    """

    def __init__(self, space: gym.Space, box_mapping: str = "tanh", output_range: tuple[float, float] = (-1.0, 1.0)):
        if box_mapping not in BOX_MAPPINGS:
            raise ValueError(f"box mapping {box_mapping!r} is not accepted; use {' or '.join(BOX_MAPPINGS)}")
        self.space = space
        self.box_mapping = box_mapping
        self.output_range = (float(output_range[0]), float(output_range[1]))
        if isinstance(space, spaces.Discrete):
            self.kind = "discrete"
            self.groups = [int(space.n)]
            self.starts = [int(space.start)]
            self.n_outputs = int(space.n)
        elif isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
            self.kind = "multidiscrete"
            self.groups = [int(n) for n in space.nvec]
            self.starts = [int(s) for s in space.start]
            self.n_outputs = int(sum(self.groups))
        elif isinstance(space, spaces.Box):
            low, high = space.low.astype(np.float64), space.high.astype(np.float64)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise UnsupportedSpaceError(f"action space {space} is unbounded; a Box action needs finite low and high")
            self.kind = "box"
            self.shape = tuple(space.shape)
            self.low, self.high = low.reshape(-1), high.reshape(-1)
            self.n_outputs = int(np.prod(space.shape)) if space.shape else 1
        else:
            raise UnsupportedSpaceError(
                f"action space {space} is not supported; accepted: Discrete, 1-D MultiDiscrete, bounded Box"
            )
        self._tensors: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, out: torch.Tensor) -> torch.Tensor:
        """out: (N, n_outputs) -> int64 (N,) / (N, groups) or float (N, *shape)."""
        if self.kind == "discrete":
            action = out.argmax(dim=-1)
            return action if self.starts[0] == 0 else action + self.starts[0]
        if self.kind == "multidiscrete":
            chosen = [
                chunk.argmax(dim=-1) + start
                for chunk, start in zip(out.split(self.groups, dim=-1), self.starts)
            ]
            return torch.stack(chosen, dim=-1)
        low, half_range, high = self._box_tensors(out)
        if self.box_mapping == "clip":
            return torch.clamp(out, low, high).reshape(out.shape[0], *self.shape)
        if self.box_mapping == "tanh":
            unit = torch.tanh(out)
        else:  # the outputs' range onto [-1, 1]; clamped, as sequence outputs and rounding may stray
            lo, hi = self.output_range
            unit = out.clamp(lo, hi).sub_(lo).mul_(2.0 / (hi - lo)).sub_(1.0)
        return torch.addcmul(low, unit + 1.0, half_range).reshape(out.shape[0], *self.shape)

    def _box_tensors(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(low, half_range, high), each (n_outputs,) in ``out``'s dtype and device."""
        key = f"{out.device}/{out.dtype}"
        if key not in self._tensors:
            low = torch.as_tensor(self.low, dtype=out.dtype, device=out.device)
            half_range = torch.as_tensor((self.high - self.low) / 2, dtype=out.dtype, device=out.device)
            high = torch.as_tensor(self.high, dtype=out.dtype, device=out.device)
            self._tensors[key] = (low, half_range, high)
        return self._tensors[key]

    def to_json(self) -> dict:
        if self.kind == "box":
            mapping = {"box_mapping": self.box_mapping}
            if self.box_mapping == "linear":
                mapping["output_range"] = list(self.output_range)
            return {"type": "box", "shape": list(self.shape), "low": self.low.tolist(), "high": self.high.tolist(), **mapping}
        return {"type": self.kind, "groups": self.groups, "starts": self.starts}


def to_numpy_action(actions: torch.Tensor, space: gym.Space) -> np.ndarray:
    """A batch of actions as the numpy array gymnasium's vector envs take."""
    array = actions.detach().cpu().numpy()
    return array.astype(space.dtype, copy=False) if space.dtype is not None else array

