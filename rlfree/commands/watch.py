"""Play episodes of a trained agent: in a window, as text, recorded to a GIF/MP4, or just scored.

    rlfree watch runs/CartPole-v1__rlfree__0__1700000000
    rlfree watch runs/... --record cartpole.gif
    rlfree watch --env CartPole-v1 --no-render --episodes 100   # the shipped agent
    rlfree watch runs/rlfree-CatMouseDuel-v0__... --render ansi       # cat versus mouse
    rlfree watch runs/rlfree-CatMouseDuel-v0__... --cat runs/.../checkpoints/gen10
    rlfree watch runs/MyEnv-v0__... --import my_pkg     # an agent of env 'my_pkg:MyEnv-v0'

An agent whose env id is 'package:Env-v0' needs its package imported; rlfree imports it only
when --import names it, never because the saved network.json says so.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

from rlfree.agent import load_agent
from rlfree.cli import ArgumentParser, add_import_argument, shown_path, user_errors
from rlfree.coevolve import is_duel, load_duel_agent
from rlfree.errors import UserError
from rlfree.recording import FrameRecorder, check_record_path
from rlfree.shipped import shipped_agent_path

DEFAULT_SEED = 1_500_000_000  # held-out range [2^30, 2^31): never a training episode


def has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="a run folder (plays checkpoints/best) or a checkpoint folder")
    parser.add_argument("--env", help="with no path: play the agent shipped in agents/ for this env id")
    add_import_argument(parser)
    parser.add_argument("--cat", metavar="PATH", help="cat versus mouse: the cat to play against the path's mouse (default: the path's own cat)")
    parser.add_argument("--episodes", type=int, default=5, help="episodes to play (default: 5)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of the first episode; episode i uses seed+i (default: {DEFAULT_SEED})")
    parser.add_argument("--render", choices=["human", "ansi", "none"], help="human: a window; ansi: text in the terminal (default: human when a display exists)")
    parser.add_argument("--no-render", dest="render", action="store_const", const="none", help="only print the returns")
    parser.add_argument("--record", metavar="FILE", help="write the first --record-episodes episodes to FILE (.gif, or .mp4 with rlfree[video])")
    parser.add_argument("--record-episodes", type=int, default=1, help="episodes to put in the recording (default: 1)")
    parser.add_argument("--shared-weight", type=float, metavar="X",
                        help="an agent of --algo wann: play its wiring and activations with every existing weight set to X (the reference's shared weight)")
    parser.add_argument("--fps", type=float, help="frames per second when rendering (default: the env's render_fps)")
    return parser.parse_args(argv)


def agent_path(args: argparse.Namespace) -> Path:
    if args.path and args.env:
        raise UserError(f"--env {args.env} plays a shipped agent and cannot be given with a path; leave it out (a saved env's package is allowed with --import PACKAGE)")
    if args.path:
        return Path(args.path)
    if args.env:
        shipped = shipped_agent_path(args.env)
        if not ((shipped / "W.npy").is_file() or is_duel(shipped)):
            raise UserError(f"no agent is shipped for env {args.env!r} (looked in {shipped}); train one with rlfree train --env {args.env}")
        return shipped
    raise UserError("give a run folder or checkpoint folder, or --env ID for a shipped agent")


def render_modes(env_id: str) -> list[str] | None:
    """The render modes the env's class declares, read without making an env (None: it declares none)."""
    entry_point = gym.spec(env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    metadata = getattr(creator, "metadata", None)
    return None if metadata is None else list(metadata.get("render_modes") or [])


def can_render(mode: str, modes: list[str]) -> bool:
    # gym.make shows an rgb_array-only env in a window itself (its HumanRendering wrapper)
    return mode in modes or (mode == "human" and bool({"rgb_array", "rgb_array_list"} & set(modes)))


def check_render_modes(env_id: str, render: str, record: str | None) -> None:
    """UserError naming the env's render modes when it cannot render what was asked
    (``--render human``/``ansi``, or rgb_array frames for ``--record``)."""
    modes = render_modes(env_id)
    if modes is None:  # a plain function as entry point: gym.make cannot tell either
        return
    asked = ([(render, f"--render {render}")] if render in ("human", "ansi") else []) + ([("rgb_array", "--record")] if record else [])
    for mode, flag in asked:
        if not can_render(mode, modes):
            has = f"render modes {', '.join(map(repr, modes))}" if modes else "no render modes"
            ways = [f"--render {m}" for m in ("human", "ansi") if can_render(m, modes)] + (["--record FILE.gif"] if "rgb_array" in modes else [])
            raise UserError(f"{flag} needs render mode {mode!r}, and env {env_id!r} has {has}; use {' or '.join([*ways, '--no-render'])}")


@contextlib.contextmanager
def quiet_sdl(render: str):
    """SDL settings for this command only, so that pygame (the classic-control renderers) prints
    neither "XDG_RUNTIME_DIR is invalid or not set in the environment" nor ALSA's lines.

    SDL's Wayland video driver says the first when the variable is unset, its audio drivers say
    the second on a machine without a sound card. Frames drawn off-screen (rgb_array) need no
    video or audio driver, so both are SDL's 'dummy'; a window needs the real video driver, which
    gets a private runtime folder when the session has no usable one. Variables the user set are
    kept, and all are put back when the command ends.
    """
    settings = {"SDL_AUDIODRIVER": "dummy"}  # no env here plays sound
    runtime_dir = None
    if render != "human":
        settings["SDL_VIDEODRIVER"] = "dummy"
    elif not os.path.isdir(os.environ.get("XDG_RUNTIME_DIR", "")):
        runtime_dir = tempfile.mkdtemp(prefix="rlfree-runtime-")  # mode 0700, as the XDG spec asks
        settings["XDG_RUNTIME_DIR"] = runtime_dir
    previous = {name: os.environ.get(name) for name in settings}
    for name, value in settings.items():
        if name == "XDG_RUNTIME_DIR" or name not in os.environ:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if runtime_dir is not None:
            shutil.rmtree(runtime_dir, ignore_errors=True)


def main(argv=None, prog: str | None = None) -> int:
    prog = prog or "rlfree watch"
    args = parse_args(argv, prog)
    try:
        with user_errors(prog):
            if args.episodes < 1:
                raise UserError(f"--episodes {args.episodes} is not accepted: use 1 or more")
            path = agent_path(args)
            agent = load_duel_agent(path, args.cat) if args.cat or is_duel(path) else load_agent(path, args.imports)
            if args.shared_weight is not None:
                if not math.isfinite(args.shared_weight):
                    raise UserError(f"--shared-weight {args.shared_weight} is not accepted: use a finite number")
                if getattr(agent, "mask", None) is None:
                    raise UserError(f"--shared-weight applies to agents of --algo wann (their network.json has a mask); {shown_path(agent.source)} has none")
                agent = agent.with_shared_weight(args.shared_weight)
            render = args.render
            if render == "human" and not has_display():
                raise UserError("--render human needs a display and none was found; use --record run.gif (or --render ansi, --no-render)")
            if render is None:
                modes = render_modes(agent.env_id)
                window = has_display() and not args.record and (modes is None or can_render("human", modes))
                render = "human" if window else "none"
            check_render_modes(agent.env_id, render, args.record)
            if args.record:
                check_record_path(args.record)
            shared = f"  at shared weight {args.shared_weight:g}" if args.shared_weight is not None else ""
            print(f"agent: {shown_path(agent.source)}{f'  against the cat of {args.cat}' if args.cat else ''}{shared}  (env {agent.env_id})")
            with quiet_sdl(render):
                returns = play_episodes(agent, args, render)
    except KeyboardInterrupt:
        # play_episodes has closed its envs and windows on the way out; a traceback would say nothing
        print("\ninterrupted", flush=True)
        return 130
    mean, std = float(np.mean(returns)), float(np.std(returns))
    print(f"mean return {mean:.2f} ± {std:.2f} over {len(returns)} episodes")
    return 0


def follow_the_robot(env: gym.Env) -> gym.Env:
    """A MuJoCo env's free camera made to follow its first body (the torso of every gymnasium
    locomotion model) where the env's camera settings track nothing: HalfCheetah-v5's and
    Swimmer-v5's stay where the robot started, and a good agent runs out of the picture."""
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    if renderer is None or getattr(renderer, "camera_id", None) not in (None, -1):  # not MuJoCo, or a fixed camera chosen
        return env
    import mujoco

    config = dict(renderer.default_cam_config or {})
    if "trackbodyid" not in config:  # Hopper's and Walker2d's own settings stand
        config.update(trackbodyid=1, elevation=config.get("elevation", -20.0))  # from above, so the floor shows it moving
    config.setdefault("type", mujoco.mjtCamera.mjCAMERA_TRACKING)
    renderer.default_cam_config = config  # applied when the first frame is drawn
    renderer.camera_id = None  # -1 would make each frame reset the camera to a free (not tracking) one
    return env


def play_episodes(agent, args: argparse.Namespace, render: str) -> list[float]:
    seeds = [args.seed + i for i in range(args.episodes)]
    if render == "none" and not args.record:
        returns = agent.score(seeds).tolist()
        for i, (seed, value) in enumerate(zip(seeds, returns)):
            print(f"episode {i + 1:>4}  seed {seed}  return {value:.2f}")
        return returns

    render_mode = {"human": "human", "ansi": "ansi"}.get(render, "rgb_array")
    if args.record and not has_display():
        # MuJoCo's envs render off-screen through EGL on a machine without a display (a server, CI); gymnasium
        # reads the variable when the first frame is drawn, and a user's own choice stands
        os.environ.setdefault("MUJOCO_GL", "egl")
    envs: list[gym.Env] = []  # all closed on the way out, windows included, whatever ends the episodes

    def opened(env: gym.Env) -> gym.Env:
        envs.append(env)
        return env

    returns = []
    try:
        env = opened(follow_the_robot(agent.make_env(render_mode)))
        fps = args.fps or env.metadata.get("render_fps", 30)
        recorder = FrameRecorder(args.record, fps) if args.record else None
        side_env = opened(follow_the_robot(agent.make_env("rgb_array"))) if recorder and render_mode != "rgb_array" else None
        # episodes after the recorded ones need no pixels when nothing is shown live
        plain_env = opened(agent.make_env()) if render_mode == "rgb_array" else env
        for i, seed in enumerate(seeds):
            recording = recorder is not None and i < args.record_episodes

            def on_step(e, recording=recording):
                if render_mode == "ansi":
                    print(e.render(), flush=True)
                    if sys.stdout.isatty():
                        time.sleep(1.0 / fps)
                if recording and render_mode == "rgb_array":
                    recorder.add(e.render())

            if side_env is not None and recording:
                # a window or text is shown live; the recording needs pixels, so the episode is
                # replayed in a second, off-screen copy (same seed, same deterministic policy)
                agent.play(side_env, seed, lambda e: recorder.add(e.render()))
            if render_mode == "rgb_array" and not recording:
                value, length = agent.play(plain_env, seed)
            else:
                value, length = agent.play(env, seed, on_step)
            returns.append(value)
            print(f"episode {i + 1:>4}  seed {seed}  return {value:.2f}  length {length}")
    except Exception as err:
        if type(err).__name__ == "FatalError" and type(err).__module__.startswith("mujoco"):  # no OpenGL platform to draw with
            raise UserError(f"MuJoCo cannot draw frames here with MUJOCO_GL={os.environ.get('MUJOCO_GL')}: {err}; "
                            "install EGL (libegl1) or OSMesa and set MUJOCO_GL=egl or osmesa") from None
        raise
    finally:
        for e in envs:
            e.close()
    if recorder is not None:
        path = recorder.save()
        print(f"recorded {recorder.frames_written} frames to {path}")
    return returns

