"""The weight matrix W as a picture for TensorBoard, with its blocks marked and a legend.

W (A, K) maps the columns ``[1, observation (I), previous activations (A)]`` to the rows
``[outputs (O), hidden (H)]``. The picture draws each weight as a square, red positive and blue
negative, with grey lines between the column blocks and between the output and hidden rows.
One colour scale holds for a whole run (chosen from the initial weights), so that pictures of
different steps compare: a weight ``w`` gets the colour strength ``|w| / (|w| + scale)``, half
strength at ``|w| = scale``, and no weight is clipped however large it grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PIXELS = 6  # each weight is a PIXELS x PIXELS square: TensorBoard shows small images tiny
_LINE = np.array([0.55, 0.55, 0.55], dtype=np.float32)


@dataclass(frozen=True)
class WeightLayout:
    """Which rows and columns of W are what."""

    n_outputs: int
    n_hidden: int
    n_inputs: int  # encoded observation size I

    @property
    def column_blocks(self) -> list[int]:
        """Widths of the bias, observation and previous-activation blocks."""
        return [1, self.n_inputs, self.n_outputs + self.n_hidden]

    def legend(self, scale: float) -> str:
        A = self.n_outputs + self.n_hidden
        return (
            f"W has {A} rows (activations: {self.n_outputs} outputs, then {self.n_hidden} hidden; a grey line between) "
            f"and {1 + self.n_inputs + A} columns in three blocks split by grey lines: bias (1) | observation ({self.n_inputs}) | "
            f"previous activations ({A}). Red is positive, blue negative, white 0; colour strength |w| / (|w| + {scale:.3g}), "
            "the same scale at every step of this run."
        )


def colour_scale(W: np.ndarray) -> float:
    """A run's scale: the mean |w| of its first W (0.1 when that is 0)."""
    return float(np.abs(W).mean()) or 0.1


def weight_image(W: np.ndarray, layout: WeightLayout, scale: float) -> np.ndarray:
    """W (A, K) -> RGB image (3, H, W') in [0, 1], with block separators and PIXELS-sized squares."""
    x = W / (np.abs(W) + scale)
    cells = np.stack([np.where(x < 0, 1.0 + x, 1.0), 1.0 - np.abs(x), np.where(x > 0, 1.0 - x, 1.0)], axis=-1)  # (A, K, 3)
    cells = cells.repeat(PIXELS, axis=0).repeat(PIXELS, axis=1).astype(np.float32)
    # separator lines, inserted from the right and the bottom so earlier offsets stay valid
    edges = np.cumsum(layout.column_blocks)[:-1] * PIXELS
    for edge in edges[::-1]:
        cells = np.insert(cells, edge, _LINE, axis=1)
    if layout.n_outputs and layout.n_hidden:
        cells = np.insert(cells, layout.n_outputs * PIXELS, _LINE, axis=0)
    return cells.transpose(2, 0, 1)
