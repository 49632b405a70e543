"""A picture of a per-neuron free network's wiring (what ``--algo wann`` found), drawn with pillow.

Columns from left to right: the inputs (the bias and each observation entry), the hidden
neurons in use, placed by how many connections separate them from the inputs (breadth first,
along connections that go forward), and the outputs. Each neuron shows its activation. A
connection is a line, blue for a positive weight and red for a negative one, thicker for a
larger one; a connection that goes back (into a neuron no further right than its source: the
free network's recurrence, which runs on the next tick) is an orange arc, and a neuron's
connection to itself a small loop above it.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from rlfree.network import NetworkSpec

NODE_RADIUS = 16
COLUMN_GAP = 150
ROW_GAP = 52
MARGIN = 60
POSITIVE, NEGATIVE, BACK = (40, 90, 200), (200, 50, 40), (230, 140, 20)


def neuron_depths(spec: NetworkSpec, mask: np.ndarray) -> dict[int, int]:
    """mask (A, K) -> {neuron in use: its column}: 1 + the fewest connections from an input, outputs
    in the last column; a hidden neuron no input reaches sits in column 1."""
    inputs, A = 1 + spec.n_inputs, spec.n_activations
    used = [i for i in range(A) if i < spec.n_outputs or mask[i].any()]
    depth = {}
    frontier = [i for i in used if mask[i, :inputs].any()]
    for i in frontier:
        depth[i] = 1
    while frontier:
        following = []
        for j in frontier:
            for i in used:
                if i not in depth and mask[i, inputs + j]:
                    depth[i] = depth[j] + 1
                    following.append(i)
        frontier = following
    hidden = [i for i in used if i >= spec.n_outputs]
    last = max([depth.get(i, 1) for i in hidden], default=0) + 1
    columns = {i: depth.get(i, 1) for i in hidden}
    columns.update({i: last for i in range(spec.n_outputs)})
    return columns


def wiring_picture(spec: NetworkSpec, W: np.ndarray, neurons: list[str], input_names: list[str] | None = None) -> np.ndarray:
    """W (A, K) (its zeros: the connections that do not exist), each neuron's activation (A,) ->
    RGB image (H, W', 3) uint8."""
    inputs = 1 + spec.n_inputs
    mask = W != 0
    names = ["bias", *(input_names or [f"obs {k}" for k in range(spec.n_inputs)])]
    columns = neuron_depths(spec, mask)
    by_column: dict[int, list[int]] = {}
    for i, c in sorted(columns.items(), key=lambda item: (item[1], item[0])):
        by_column.setdefault(c, []).append(i)
    tallest = max([inputs, *map(len, by_column.values())])
    width = 2 * MARGIN + COLUMN_GAP * max(columns.values(), default=1) + 60
    height = 2 * MARGIN + ROW_GAP * (tallest - 1) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def place(count: int, k: int) -> float:
        return MARGIN + 15 + (height - 2 * MARGIN - 30) * (0.5 if count == 1 else k / (count - 1))

    where = {("in", j): (MARGIN + 30, place(inputs, j)) for j in range(inputs)}
    for c, members in by_column.items():
        for k, i in enumerate(members):
            where[("n", i)] = (MARGIN + 30 + COLUMN_GAP * c, place(len(members), k))
    scale = max(float(np.abs(W).max()), 1e-12)

    for i in columns:
        for col in np.flatnonzero(mask[i]):
            source = ("in", col) if col < inputs else ("n", col - inputs)
            if source not in where:
                continue  # from a neuron not in use: no effect on anything (its activation stays 0)
            w = float(W[i, col])
            thickness = 1 + round(3 * abs(w) / scale)
            (x0, y0), (x1, y1) = where[source], where[("n", i)]
            if source == ("n", i):
                draw.ellipse([x1 - 12, y1 - NODE_RADIUS - 22, x1 + 12, y1 - NODE_RADIUS + 2], outline=BACK, width=thickness)
            elif source[0] == "n" and columns[source[1]] >= columns[i]:
                draw.line(_arc((x0, y0), (x1, y1)), fill=BACK, width=thickness)
            else:
                draw.line([(x0, y0), (x1, y1)], fill=POSITIVE if w > 0 else NEGATIVE, width=thickness)
    for j in range(inputs):
        x, y = where[("in", j)]
        draw.ellipse([x - NODE_RADIUS, y - NODE_RADIUS, x + NODE_RADIUS, y + NODE_RADIUS], fill=(230, 230, 230), outline="black")
        draw.text((x - NODE_RADIUS - 8, y), names[j], fill="black", anchor="rm")
    for i in columns:
        x, y = where[("n", i)]
        output = i < spec.n_outputs
        draw.ellipse([x - NODE_RADIUS, y - NODE_RADIUS, x + NODE_RADIUS, y + NODE_RADIUS],
                     fill=(255, 235, 200) if output else (215, 235, 255), outline="black")
        draw.text((x, y), str(i), fill="black", anchor="mm")
        label = f"out {i}: {neurons[i]}" if output else neurons[i]
        draw.text((x, y + NODE_RADIUS + 3), label, fill="black", anchor="mt")
    connections = int(mask.sum())
    draw.text((8, 8), f"{connections} connections, {len(columns) - spec.n_outputs} hidden neurons in use, {spec.ticks} ticks per step",
              fill="black")
    return np.asarray(image)


def _arc(start: tuple[float, float], end: tuple[float, float], points: int = 24) -> list[tuple[float, float]]:
    """A quadratic curve from start to end, bulging upward: a connection that goes back."""
    (x0, y0), (x1, y1) = start, end
    # the control point no higher than the caption's line, so that a long arc stays in the picture
    cx, cy = (x0 + x1) / 2, max(min(y0, y1) - 40 - 0.25 * abs(x1 - x0), 24.0)
    return [((1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t * t * x1, (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t * t * y1)
            for t in (k / points for k in range(points + 1))]


def png_bytes(picture: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> a PNG file's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def for_tensorboard(picture: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1], as the record's images are."""
    return (picture.astype(np.float32) / 255.0).transpose(2, 0, 1)

