"""Episodes to video files: GIF with Pillow, MP4 with imageio's ffmpeg (the `video` extra)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rlfree.errors import UserError

FORMATS = (".gif", ".mp4")
MACRO_BLOCK = 16  # px: most H.264 players decode frames made of whole 16 x 16 macro-blocks


def padded_to_blocks(frame: np.ndarray, block: int = MACRO_BLOCK) -> np.ndarray:
    """frame (H, W, 3) -> (H', W', 3), H' and W' the next multiples of ``block``, the edge pixels repeated.

    imageio would otherwise stretch the frame to those sizes and warn about it: padding keeps
    every pixel as the env drew it (CartPole's 600 x 400 becomes 608 x 400).
    """
    pad = ((0, -frame.shape[0] % block), (0, -frame.shape[1] % block), (0, 0))
    return np.pad(frame, pad, mode="edge") if pad[0][1] or pad[1][1] else frame


def check_record_path(path: str | Path) -> Path:
    """UserError unless ``path`` ends in .gif or .mp4 and its folder can be written."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"--record {str(path)!r} is not accepted: the file must end in .gif or .mp4")
    if path.suffix.lower() == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise UserError("recording .mp4 needs imageio[ffmpeg]: pip install -e '.[video]' (or record a .gif)") from None
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UserError(f"--record {str(path)!r}: folder {str(folder)!r} does not exist or cannot be written")
    return path


class FrameRecorder:
    """Collects rgb_array frames (H, W, 3) uint8 and writes them at ``fps``."""

    def __init__(self, path: str | Path, fps: float):
        self.path = check_record_path(path)
        self.fps = fps
        self.frames: list[np.ndarray] = []
        self.frames_written = 0

    def add(self, frame: np.ndarray | None) -> None:
        if frame is not None:
            self.frames.append(np.asarray(frame, dtype=np.uint8))

    def save(self) -> Path:
        if not self.frames:
            raise ValueError("nothing to record: the environment gave no rgb_array frames")
        tmp = self.path.with_name(f".{self.path.name}.tmp{self.path.suffix}")
        if self.path.suffix.lower() == ".gif":
            from PIL import Image

            # One palette for the whole film, from a strip of frames spread over it: quantizing
            # each frame on its own is several times slower and makes colours flicker.
            sample = self.frames[:: max(1, len(self.frames) // 8)][:8]
            palette = Image.fromarray(np.concatenate(sample, axis=0)).quantize(colors=128, method=Image.Quantize.MEDIANCUT)
            images = [Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE) for frame in self.frames]
            duration_ms = max(int(round(1000 / self.fps)), 20)  # GIF viewers clamp faster frames
            images[0].save(tmp, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
        else:
            import imageio.v2 as imageio

            with imageio.get_writer(tmp, fps=self.fps, macro_block_size=MACRO_BLOCK) as writer:
                for frame in self.frames:  # one padded copy at a time
                    writer.append_data(padded_to_blocks(frame))
        os.replace(tmp, self.path)
        self.frames_written = len(self.frames)
        return self.path
