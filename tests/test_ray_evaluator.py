"""Episodes on Ray actors: the local run's results bitwise, seeds instead of weights, a killed actor
absorbed, bad input refused in one line (rlfree.ray_evaluator).

One Ray instance for the module (2 CPUs, no dashboard, a small object store, on 127.0.0.1:
tests/conftest.py), started by the first test that needs it and always shut down. The tests
before that one need no Ray running.
"""

import functools
import os
import signal
import sys

import numpy as np
import pytest
import ray
import torch

from rlfree.backend import make_batched_env
from rlfree.commands import train
from rlfree.config import Config, EnvConfig
from rlfree.evaluator import LocalEvaluator
from rlfree.optimiser import make_optimiser
from rlfree.policy import Policy
from rlfree.ray_evaluator import RayEvaluator
from rlfree.run_loop import RunState
from rlfree.seeding import episode_seeds
from rlfree.trainer import Trainer
from rlfree.config import WalkConfig

import gymnasium as gym


def refused(argv, tmp_path, capsys) -> str:
    """The one line ``rlfree train argv`` exits 2 with, having written nothing."""
    with pytest.raises(SystemExit) as exit_info:
        train.main([*argv, "--logdir", str(tmp_path / "runs"), "-n", "1"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert not (tmp_path / "runs").exists()
    return line


# -- bad input that needs no Ray running --------------------------------------------------------
def test_without_ray_installed_executor_ray_is_one_line_saying_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra sees: import ray fails
    line = refused(["--env", "CartPole-v1", "--ray"], tmp_path, capsys)
    assert line == "rlfree train: error: executor ray needs Ray, which is not installed: pip install 'rlfree[ray]'"


def test_an_unreachable_ray_address_is_one_line(tmp_path, capsys):
    line = refused(["--env", "CartPole-v1", "--ray", "127.0.0.1:9"], tmp_path, capsys)
    assert line.startswith("rlfree train: error: ray_address '127.0.0.1:9' is unreachable (")
    assert "ray start --head" in line
    assert "ray_address 'nowhere' is not accepted" in refused(["--env", "CartPole-v1", "--ray", "nowhere"], tmp_path, capsys)


def test_async_copies_inside_ray_actors_are_refused(tmp_path, capsys):
    line = refused(["--env", "Pendulum-v1", "--ray", "--vectorization", "async"], tmp_path, capsys)
    assert "vectorization 'async' is not accepted with executor ray" in line


# -- with Ray -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20, logging_level="ERROR", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_a_cluster_without_the_cpus_asked_for_is_one_line(ray_instance, tmp_path, capsys):
    line = refused(["--env", "CartPole-v1", "--ray", "--ray-actors", "64"], tmp_path, capsys)
    assert line == ("rlfree train: error: ray_actors=64 needs 64 CPUs (one per actor), and the Ray cluster started here has 2: "
                    "use --ray-actors 2 or fewer, or add nodes with `ray start --address`")


def cartpole(hidden: int = 3) -> tuple[Policy, functools.partial]:
    probe = gym.make("CartPole-v1")
    policy = Policy.for_spaces("CartPole-v1", probe.observation_space, probe.action_space, hidden=hidden, ticks=2, activation="tanh")
    return policy, functools.partial(make_batched_env, "CartPole-v1", backend="torch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blocks_on_actors_give_the_local_evaluators_returns_bitwise_and_send_seeds_not_weights(ray_instance, dtype):
    """Rows rebuilt from seeds in blocks of 3 (the last one short) on 2 actors, with the
    evaluation rows' own seeds: every member's returns and lengths are the local ones. The
    bytes sent hold the centre once and a few numbers per block; the weights travel only
    for rows that cannot be described as seeds."""
    policy, make_env = cartpole(hidden=20)
    make_env = functools.partial(make_env, dtype=dtype)
    centre = policy.initial_params(torch.Generator().manual_seed(0), 0.5, dtype)
    walk = make_optimiser(WalkConfig(population=10, sigma=0.5), centre, seed=4)
    members = walk.ask()
    rows = walk.seeded_rows().with_centre_rows(3)
    params = torch.cat([members, centre.expand(3, -1)])
    seeds = torch.cat([episode_seeds(4, 0, 2).expand(10, 2), episode_seeds(4, 0, 6, "eval").reshape(3, 2)])
    with LocalEvaluator(policy, make_env) as local:
        expected = local.evaluate(params, seeds)
    with RayEvaluator(policy, make_env, EnvConfig(executor="ray", ray_block_rows=3, dtype=str(dtype)[6:])) as remote:
        assert len(remote.actors) == 2
        seeded, weights = (remote.evaluate(params, seeds, rows=sent_as) for sent_as in (rows, None))
    for rollout in (seeded, weights):
        assert rollout.returns.dtype == dtype
        assert torch.equal(rollout.returns, expected.returns) and torch.equal(rollout.lengths, expected.lengths)
    assert len(set(expected.returns.reshape(-1).tolist())) > 4  # episodes of many lengths: the check has teeth
    blocks, centre_bytes, weight_bytes = 5, centre.numel() * centre.itemsize, params.numel() * params.itemsize
    assert centre_bytes < seeded.bytes_sent < centre_bytes + blocks * 1000  # the centre once, then ~0.6 kB a block
    assert weights.bytes_sent > weight_bytes > 4 * seeded.bytes_sent
    assert seeded.bytes_received == weights.bytes_received < blocks * 1000  # returns and lengths (3, 2) per block


def config(setting: dict, **env) -> Config:
    """A short run's config: ``setting`` ({section: {name: value}}), then ``env`` in [env]."""
    c = Config()
    c.update({"walk": {"population": 12}, "run": {"eval_episodes": 4, "seed": 3}}, "test")
    c.update(setting, "test")
    c.update({"env": env}, "test")
    return c


def generations(config: Config, count: int, on_trainer=None) -> tuple[list, torch.Tensor, Trainer]:
    """Run ``count`` generations: (each generation's rollout, the final centre, the trainer)."""
    trainer = Trainer(config)
    trainer.first_centre = trainer.optimiser.centre.clone()
    rollouts = []
    evaluate = trainer.evaluator.evaluate
    trainer.evaluator.evaluate = lambda *args, **kwargs: rollouts.append(evaluate(*args, **kwargs)) or rollouts[-1]
    before_close = on_trainer(trainer) if on_trainer is not None else None
    state = RunState(env_id=config.env.env, config=config.to_dict())
    try:
        for _ in range(count):
            trainer.generation(state)
    finally:
        if before_close is not None:
            before_close()
        trainer.close()
    return rollouts, trainer.optimiser.centre, trainer


@pytest.mark.parametrize("setting", [
    {"env": {"env": "CartPole-v1"}},  # the twin
    # gymnasium copies, with the sums of |action| that a control cost takes from every episode
    {"env": {"env": "Pendulum-v1", "backend": "gym", "dtype": "float64"}, "network": {"normalize_obs": True}, "walk": {"action_cost": 0.5}},
    # the weight-agnostic search (its genomes travel as weights and activation codes), then a generation of its tuning walk
    {"env": {"env": "CartPole-v1"}, "network": {"activation": "per_neuron", "hidden": 3},
     "algo": {"algo": "wann", "wann_population": 8, "wann_elites": 2, "wann_generations": 2}},
], ids=["CartPole-v1-twin", "Pendulum-v1-gym-float64-normalised", "CartPole-v1-wann"])
def test_a_ray_run_gives_the_local_runs_returns_and_centre_bitwise(ray_instance, setting):
    local_rollouts, local_centre, local = generations(config(setting), 3)
    ray_rollouts, ray_centre, remote = generations(config(setting, executor="ray", ray_block_rows=5), 3)
    for mine, theirs in zip(ray_rollouts, local_rollouts):
        assert torch.equal(mine.returns, theirs.returns) and torch.equal(mine.lengths, theirs.lengths)
        assert mine.bytes_sent > 0 and theirs.bytes_sent is None
        assert (mine.action_l1 is None) == (theirs.action_l1 is None) == ("walk" not in setting)
        assert mine.action_l1 is None or torch.equal(mine.action_l1, theirs.action_l1)
    assert torch.equal(ray_centre, local_centre)
    assert not torch.equal(local_centre, local.first_centre)  # the walk moved: the check has teeth
    if local.obs_stats is not None:
        assert local.obs_stats.count > 0
        for name in ("count", "mean", "m2"):
            assert np.array_equal(getattr(remote.obs_stats, name), getattr(local.obs_stats, name))


class KilledAfterItsFirstBlock:
    """An actor handle that, once it has been handed a block, has its process killed (SIGKILL,
    as the out-of-memory killer would): the block is in flight when the actor dies."""

    def __init__(self, evaluator: RayEvaluator, index: int):
        self.evaluator, self.index, self.actor, self.killed = evaluator, index, evaluator.actors[index], False
        self.evaluate_block, self.where = self, self.actor.where

    def remote(self, *args):
        ref = self.actor.evaluate_block.remote(*args)
        if not self.killed:
            self.killed = True
            os.kill(self.evaluator.places[self.index][1], signal.SIGKILL)
        return ref


def test_a_run_whose_actor_is_killed_mid_generation_ends_with_the_undisturbed_centre(ray_instance):
    setting = {"env": {"env": "Pendulum-v1", "backend": "gym"}, "walk": {"population": 16}}
    _, local_centre, _ = generations(config(setting), 2)

    def kill_one_actor(trainer):
        evaluator = trainer.evaluator
        evaluator.actors[0] = KilledAfterItsFirstBlock(evaluator, 0)
        return lambda: evaluator.actors.__setitem__(0, evaluator.actors[0].actor)  # the plain handle, for close()

    _, ray_centre, remote = generations(config(setting, executor="ray", ray_block_rows=4), 2, on_trainer=kill_one_actor)
    assert remote.evaluator.reruns == 1  # the killed actor's block, re-run on the other actor
    assert torch.equal(ray_centre, local_centre)
    assert remote.evaluator.actors == []  # closed: the actors are gone
