"""A user's own environment: a gymnasium id from the user's package trains with no change to rlfree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

# The README's example: a package that registers its env with gymnasium when imported.
MY_PKG = textwrap.dedent(
    '''
    import gymnasium as gym
    import numpy as np


    class Guess(gym.Env):
        """Say the sign of x: 1 point for action 1 when x > 0 or action 0 when x <= 0."""

        observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.x = self.np_random.uniform(-1, 1, 1).astype(np.float32)
            return self.x, {}

        def step(self, action):
            reward = float(int(action) == int(self.x[0] > 0))
            self.x = self.np_random.uniform(-1, 1, 1).astype(np.float32)
            return self.x, reward, False, False, {}


    gym.register("MyEnv-v0", entry_point="my_pkg:Guess", max_episode_steps=20, reward_threshold=19.0)
    '''
)


def test_own_package_env_trains_on_the_gym_backend(tmp_path):
    (tmp_path / "my_pkg").mkdir()
    (tmp_path / "my_pkg" / "__init__.py").write_text(MY_PKG)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    logdir = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train.py"), "--env", "my_pkg:MyEnv-v0", "-n", "2", "--population", "8",
         "--eval-episodes", "4", "--logdir", str(logdir)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "preset:" not in done.stdout  # no agents/MyEnv-v0.toml: the library defaults
    assert "(env MyEnv-v0, backend gym, device cpu)" in done.stdout
    (run_dir,) = logdir.iterdir()
    assert run_dir.name.startswith("MyEnv-v0__rlfree__0__")
    latest = run_dir / "checkpoints" / "latest"
    state = json.loads((latest / "state.json").read_text())
    assert state["generation"] == 2
    assert state["config"]["env"]["env"] == "my_pkg:MyEnv-v0"
    assert state["episodes"] >= 2 * (8 + 4)  # 8 members x 1 episode + 4 evaluation episodes, twice (+ any target check)
    assert state["env_steps"] == 20 * state["episodes"]  # every episode runs to the time limit
    W = np.load(latest / "W.npy", allow_pickle=False)
    assert W.shape == (2 + 4, 1 + 1 + 2 + 4)  # (outputs + hidden, [1, obs, activations])

    # the saved agent names the id as given; watching it imports the package only when --import allows it
    assert json.loads((latest / "network.json").read_text())["env_id"] == "my_pkg:MyEnv-v0"
    watch = [sys.executable, str(REPO / "scripts" / "watch.py"), str(run_dir), "--no-render", "--episodes", "3"]
    refused = subprocess.run(watch, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "needs package 'my_pkg'" in refused.stderr and "--import my_pkg" in refused.stderr
    watched = subprocess.run([*watch, "--import", "my_pkg"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert watched.returncode == 0, watched.stderr
    assert "mean return" in watched.stdout and "over 3 episodes" in watched.stdout

    resumed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train.py"), "--resume", str(run_dir), "--import", "my_pkg", "-n", "3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((latest / "state.json").read_text())["generation"] == 3
