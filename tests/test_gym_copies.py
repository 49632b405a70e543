"""gym.make copies in this process and in worker processes: same episodes, copy order, errors."""


import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.evaluate import evaluate
from rlfree.gym_copies import EnvCrashed, WorkerVectorEnv
from rlfree.policy import Policy
from rlfree.vector import GymVectorEnv

FAILING_ID = "rlfree_test/FailsOnStep3-v0"


class FailsOnStep3(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t == 3:
            raise FloatingPointError("the physics blew up")
        return np.zeros(1, dtype=np.float32), 1.0, False, False, {}


if FAILING_ID not in gym.registry:
    gym.register(FAILING_ID, entry_point=FailsOnStep3, max_episode_steps=10)


def cartpole_rollout(vectorization: str, workers: int = 0):
    env = GymVectorEnv("CartPole-v1", 3 * 5, vectorization=vectorization, workers=workers)
    try:
        policy = Policy.for_spaces("CartPole-v1", env.observation_space, env.action_space, hidden=2, ticks=2, activation="tanh")
        params = torch.stack([policy.initial_params(torch.Generator().manual_seed(m), 2.0) for m in range(3)])
        return evaluate(policy, params, env, torch.tensor([11, 22, 33, 44, 55]))
    finally:
        env.close()


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_worker_processes_play_the_same_episodes_as_one_process(workers):
    here, split = cartpole_rollout("sync"), cartpole_rollout("async", workers)
    assert torch.equal(here.lengths, split.lengths) and torch.equal(here.returns, split.returns)
    assert len(set(here.lengths.reshape(-1).tolist())) > 3  # episodes of different lengths, so masking mattered


def test_workers_default_to_one_per_core_and_never_outnumber_the_copies(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    many, few = WorkerVectorEnv("CartPole-v1", 10), WorkerVectorEnv("CartPole-v1", 2, workers=8)
    try:
        assert len(many._processes) == 3 and [s.stop - s.start for s in many._slices] == [3, 4, 3]
        assert len(few._processes) == 2
    finally:
        many.close()
        few.close()
    assert not any(p.is_alive() for p in many._processes + few._processes)


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_a_crashing_env_is_reported_with_its_id_seed_and_step(vectorization):
    env = GymVectorEnv(FAILING_ID, 4, vectorization=vectorization, workers=2)
    try:
        env.reset(torch.tensor([70, 71, 72, 73]))
        env.step(torch.zeros(4, dtype=torch.int64))
        env.step(torch.zeros(4, dtype=torch.int64))
        with pytest.raises(EnvCrashed) as caught:
            env.step(torch.zeros(4, dtype=torch.int64))
    finally:
        env.close()
    message = str(caught.value)
    assert f"env {FAILING_ID!r} failed at step 3 of the episode with seed 70: FloatingPointError: the physics blew up" in message
    assert len(message.splitlines()) == 1


def test_workers_are_replaced_after_their_episodes_and_play_the_same_episodes():
    """A worker is started afresh after recycle_after episodes (a leaking env's memory goes with
    the old process); every reset is seeded, so the observations and rewards do not change."""
    def play(recycle_after: int) -> tuple[list[np.ndarray], list[int]]:
        env = WorkerVectorEnv("CartPole-v1", 4, workers=2, recycle_after=recycle_after)
        seen, pids = [], []
        try:
            for round_ in range(5):
                seen.append(env.reset([10 * round_ + i for i in range(4)])[0])
                pids.append(tuple(p.pid for p in env._processes))
                for _ in range(3):
                    obs, reward, *_ = env.step(np.array([0, 1, 1, 0]))
                    seen += [obs, reward]
            processes = list(env._processes)
        finally:
            env.close()
        assert not any(p.is_alive() for p in processes)
        return seen, pids

    kept, kept_pids = play(recycle_after=10**9)
    renewed, renewed_pids = play(recycle_after=4)  # each worker holds 2 copies: a fresh process every 2 resets
    assert all(np.array_equal(a, b) for a, b in zip(kept, renewed)) and len(kept) == len(renewed)
    assert len(set(kept_pids)) == 1
    assert len(set(renewed_pids)) == 3 and not set(renewed_pids[0]) & set(renewed_pids[-1])


def test_negative_workers_are_rejected():
    with pytest.raises(ValueError, match="workers=-1 is not accepted"):
        WorkerVectorEnv("CartPole-v1", 4, workers=-1)


def test_train_py_reports_a_crashing_env_in_one_line_and_keeps_the_checkpoint(tmp_path, capsys):
    from rlfree.commands import train as train_script
    logdir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(["--env", FAILING_ID, "--population", "4", "--eval-episodes", "2", "--logdir", str(logdir)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"rlfree train: error: env {FAILING_ID!r} failed at step 3 of the episode with seed ")
    (run_dir,) = logdir.iterdir()
    assert (run_dir / "checkpoints" / "latest" / "W.npy").is_file()  # written before the error was reported
