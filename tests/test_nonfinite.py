"""Numbers that are not numbers: NaN and infinite returns, actions, settings and centres.

A non-finite return is ranked last and counted, never stepped on; a +inf score solves nothing;
a network gone non-finite ends its episode before its action reaches the env; a run whose every
return, or whose centre, goes non-finite stops with one line and keeps its last finite
checkpoint; non-finite settings and generations too large for the machine are refused up front.
"""

import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.commands import train as train_command
from rlfree.config import Config, ConfigError, NetworkConfig, WalkConfig
from rlfree.errors import NonFiniteRun
from rlfree.evaluate import Rollout, evaluate
from rlfree.network import NetworkSpec
from rlfree.policy import Policy
from rlfree.progress import Console
from rlfree.run_loop import RunLoop, make_run_folder
from rlfree.memory import check_memory, generation_bytes
from rlfree.trainer import GenerationRecord, Trainer
from rlfree.walk import FaithfulRandomWalk, SmartRandomWalk
from test_training import small_config as training_config

F64 = torch.float64
NAN, INF = float("nan"), float("inf")


# -- the walk ------------------------------------------------------------------------------------
def told(returns: list[float], shaping: str = "zscore", lr: float = 0.2) -> tuple[SmartRandomWalk, dict]:
    walk = SmartRandomWalk(torch.zeros(5, dtype=F64), WalkConfig(population=4, sigma=0.1, lr=lr, shaping=shaping), seed=0)
    walk.ask()
    return walk, walk.tell(torch.tensor(returns, dtype=F64)[:, None])


@pytest.mark.parametrize("bad", [-INF, INF, NAN], ids=["-inf", "+inf", "nan"])
def test_every_nonfinite_return_is_ranked_last_counted_and_zscore_still_steps(bad):
    walk, stats = told([1.0, bad, 3.0, -2.0])
    reference, _ = told([1.0, -3.0, 3.0, -2.0])  # ranked below the worst finite return (-2) by 1
    assert stats["nonfinite_returns"] == 1
    assert stats["step_norm"] > 0.1  # -inf used to make the z-scores' std NaN and the step zero
    torch.testing.assert_close(walk.centre, reference.centre, rtol=0, atol=0)
    assert all(math.isfinite(value) for value in stats.values())


@pytest.mark.parametrize("variant", ["smart", "seed"])
def test_every_member_nonfinite_stops_naming_the_generation_and_leaves_the_walk(variant):
    config = WalkConfig(population=4, variant=variant)
    walk = (SmartRandomWalk if variant == "smart" else FaithfulRandomWalk)(torch.ones(3, dtype=F64), config, seed=0)
    for _ in range(2):
        walk.ask()
        walk.tell(torch.ones(walk.rows, 1, dtype=F64))
    before = walk.state_dict()
    walk.ask()
    with pytest.raises(NonFiniteRun, match="generation 3: every member's return is NaN or infinite") as error:
        walk.tell(torch.tensor([[NAN], [INF], [-INF]] + [[NAN]] * (walk.rows - 3), dtype=F64))
    assert "bounded activation" in str(error.value) and "smaller lr or sigma" in str(error.value)
    assert walk.generation == 2 and walk.sigma == before["sigma"]
    assert torch.equal(walk.centre, before["centre"])


def test_a_step_that_makes_the_centre_nonfinite_stops_and_leaves_the_centre():
    walk = SmartRandomWalk(torch.zeros(5), WalkConfig(population=4, sigma=0.1, lr=1e308), seed=0)  # float32
    walk.ask()
    with pytest.raises(NonFiniteRun, match=r"generation 1: the step \(lr 1e\+308, sigma 0.1\) makes the centre's weights NaN or infinite"):
        walk.tell(torch.tensor([[1.0], [0.0], [3.0], [-2.0]]))
    assert walk.generation == 0 and torch.equal(walk.centre, torch.zeros(5))


# -- the step loop -------------------------------------------------------------------------------
class ConstantEnv:
    """A batched env: observations 1, reward 1 a step, copy i terminated after ``ends[i]`` steps
    (never without ``ends``); it records every action it gets."""

    def __init__(self, num_envs: int, action_space: gym.Space, ends: list[int] | None = None):
        self.num_envs, self.device = num_envs, torch.device("cpu")
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.action_space = action_space
        self.max_episode_steps = None
        self.ends = torch.tensor(ends or [10**9] * num_envs)
        self.actions: list[torch.Tensor] = []

    def reset(self, seeds):
        return torch.ones(self.num_envs, 2)

    def step(self, actions):
        self.actions.append(actions.clone())
        n = self.num_envs
        return torch.ones(n, 2), torch.ones(n), self.ends <= len(self.actions), torch.zeros(n, dtype=torch.bool)

    def close(self):
        pass


@pytest.mark.parametrize("action_space", [spaces.Box(1.0, 3.0, (1,), dtype=np.float32), spaces.Discrete(2)], ids=["box", "discrete"])
def test_a_network_gone_nonfinite_ends_its_episode_with_nan_before_its_action_reaches_the_env(action_space):
    env = ConstantEnv(4 * 2, action_space)
    policy = Policy.for_spaces("Constant-v0", env.observation_space, action_space, hidden=2, ticks=2, activation="identity")
    params = torch.full((4, policy.spec.n_params), 0.01)
    params[1] = NAN  # non-finite from the first step
    params[2] = 1e20  # identity activations overflow float32 at the first step's second tick
    params[3] = -1e20
    rollout = evaluate(policy, params, env, torch.tensor([0, 1]), max_steps=5)
    assert rollout.nonfinite_actions == 3 * 2
    assert torch.equal(rollout.returns[0], torch.tensor([5.0, 5.0]))
    assert torch.isnan(rollout.returns[1:]).all()
    assert rollout.lengths.tolist() == [[5, 5], [0, 0], [0, 0], [0, 0]]
    actions = torch.stack(env.actions).float()
    assert torch.isfinite(actions).all()
    if isinstance(action_space, spaces.Box):
        assert (actions[:, 2:] == 1.0).all()  # 0 clipped into [1, 3] for the broken copies


def test_a_copy_that_finished_is_not_counted_when_its_network_overflows_later():
    env = ConstantEnv(2, spaces.Box(-1.0, 1.0, (1,), dtype=np.float32), ends=[5, 30])
    policy = Policy.for_spaces("Constant-v0", env.observation_space, env.action_space, hidden=1, ticks=1, activation="identity")
    params = torch.full((2, policy.spec.n_params), 1e4)  # activations grow 2e4-fold a step: inf at the 9th
    rollout = evaluate(policy, params, env, torch.tensor([0]))
    assert rollout.nonfinite_actions == 1
    assert rollout.returns[0].tolist() == [5.0] and torch.isnan(rollout.returns[1]).all()
    assert rollout.lengths.tolist() == [[5], [8]]


# -- targets and the best centre ----------------------------------------------------------------
def small_config(tmp_path: Path) -> Config:
    config = training_config(tmp_path)  # CartPole's twin, population 8
    config.run.target = 100.0
    return config


class ScriptedEvaluator:
    """Members return 1; the centre's evaluation rows return ``evaluation``."""

    def __init__(self, members: int, evaluation: float):
        self.members, self.evaluation = members, evaluation

    def evaluate(self, params, seeds, max_steps=None, on_progress=None, rows=None):
        returns = torch.ones(params.shape[0], seeds.shape[-1])
        returns[self.members :] = self.evaluation
        return Rollout(returns, torch.ones_like(returns, dtype=torch.int64))

    def close(self):
        pass


def test_an_infinite_evaluation_neither_solves_nor_becomes_the_best(tmp_path):
    trainer = Trainer(small_config(tmp_path))
    trainer.evaluator = ScriptedEvaluator(8, INF)
    trainer.target_check = lambda generation, centre: pytest.fail("a +inf evaluation started the target check")
    loop = RunLoop(trainer, make_run_folder(trainer.config), config=trainer.config)
    record = loop.step()
    assert record.eval_mean == INF
    assert not loop.state.solved and loop.state.best_eval is None
    assert not (loop.run_dir / "checkpoints" / "best").exists()
    trainer.close()


def test_an_infinite_target_check_does_not_solve(tmp_path):
    trainer = Trainer(small_config(tmp_path))
    trainer.evaluator = ScriptedEvaluator(8, 150.0)
    trainer.target_check = lambda generation, centre: (INF, 0)
    loop = RunLoop(trainer, make_run_folder(trainer.config), config=trainer.config)
    loop.step()
    assert loop.state.check_mean == INF and not loop.state.solved
    assert loop.state.best_eval == 150.0
    trainer.close()


def test_console_best_ignores_a_nonfinite_evaluation():
    console = Console(GenerationRecord, 10, target=100.0, stream=open("/dev/null", "w"))
    for generation, evaluation in enumerate([5.0, INF, NAN], start=1):
        console.on_generation(GenerationRecord(
            generation=generation, env_steps=1, episodes=1, population_mean=1.0, population_max=1.0, population_min=1.0,
            episode_length_mean=1.0, sigma=0.1, step_norm=0.1, weight_norm=1.0, nonfinite_returns=0, nonfinite_actions=0, tied_share=0.0,
            steps_per_second=1.0, elapsed=1.0, eval_mean=evaluation))
    assert console.best == 5.0
    assert "target 100 (95.0 to go)" in console.status_line(3, 1.0)


# -- the run stops, keeping the last finite checkpoint -------------------------------------------
class GoesNaNAfter:
    """The trainer's evaluator, until ``calls`` evaluations are done; then every return is NaN."""

    def __init__(self, evaluator, calls: int):
        self.evaluator, self.calls = evaluator, calls

    def evaluate(self, params, seeds, max_steps=None, on_progress=None, rows=None):
        rollout = self.evaluator.evaluate(params, seeds, max_steps, on_progress)
        self.calls -= 1
        if self.calls < 0:
            rollout.returns.fill_(NAN)
        return rollout

    def close(self):
        self.evaluator.close()


def test_every_return_nonfinite_stops_the_run_and_latest_keeps_the_last_finite_generation(tmp_path):
    config = small_config(tmp_path)
    trainer = Trainer(config)
    trainer.evaluator = GoesNaNAfter(trainer.evaluator, calls=3)
    loop = RunLoop(trainer, make_run_folder(config), config=config)
    with pytest.raises(NonFiniteRun) as error:
        loop.run()
    message = str(error.value)
    assert message.startswith("generation 4: every member's return is NaN or infinite")
    assert message.endswith(f"{loop.run_dir / 'checkpoints' / 'latest'} keeps generation 3")
    latest = loop.run_dir / "checkpoints" / "latest"
    assert json.loads((latest / "state.json").read_text())["generation"] == 3
    assert np.array_equal(np.load(latest / "W.npy"), trainer.matrix(trainer.optimiser.centre))  # the walk did not move


def train_args(tmp_path: Path, *flags: str) -> list[str]:
    empty = tmp_path / "empty.toml"  # the run does not depend on agents/*.toml
    empty.write_text("")
    return ["--config", str(empty), "--backend", "torch", "--population", "4", "--eval-episodes", "2", "--target", "1e9",
            "--save-freq", "1", "--seed", "5", "--logdir", str(tmp_path / "runs"), *flags]


def train_expecting_error(argv: list[str], capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rlfree train: error: "), lines
    return lines[0]


def test_train_with_an_lr_that_overflows_the_centre_stops_and_keeps_latest_and_best(tmp_path, capsys):
    assert train_command.main(train_args(tmp_path, "--env", "CartPole-v1", "-n", "3")) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    checkpoints = run_dir / "checkpoints"
    latest_W, best_W = np.load(checkpoints / "latest" / "W.npy"), np.load(checkpoints / "best" / "W.npy")
    line = train_expecting_error(["--resume", str(run_dir), "--lr", "1e308", "-n", "6"], capsys)
    assert "generation 4: the step (lr 1e+308" in line and "use a smaller lr or sigma" in line
    assert line.endswith("keeps generation 3")
    W = np.load(checkpoints / "latest" / "W.npy")
    assert np.isfinite(W).all() and np.array_equal(W, latest_W)
    assert json.loads((checkpoints / "latest" / "state.json").read_text())["generation"] == 3
    assert np.array_equal(np.load(checkpoints / "best" / "W.npy"), best_W)


def test_train_whose_every_return_is_nonfinite_stops_with_one_line_and_keeps_the_initial_weights(tmp_path, capsys):
    # identity activations of weights near 1e29 overflow float32 at the first step
    line = train_expecting_error(train_args(tmp_path, "--env", "Pendulum-v1", "--activation", "identity", "--init-scale", "1e30"), capsys)
    assert "generation 1: every member's return is NaN or infinite" in line and "bounded activation" in line
    (run_dir,) = (tmp_path / "runs").iterdir()
    W = np.load(run_dir / "checkpoints" / "latest" / "W.npy")
    assert np.isfinite(W).all() and abs(W).max() > 1e28
    assert not (run_dir / "checkpoints" / "best").exists()
    with open(run_dir / "progress.csv") as f:
        assert f.read().splitlines()[0].count("nonfinite") == 2  # the header names both counts; no generation finished


# -- settings ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flags, shown", [
    (["--lr", "inf"], "lr=inf"), (["--lr=-inf"], "lr=-inf"), (["--init-scale", "inf"], "init_scale=inf"),
    (["--weight-decay", "inf"], "weight_decay=inf"), (["--sigma", "inf"], "sigma=inf"), (["--sigma-min", "inf"], "sigma_min=inf"),
    (["--target", "nan"], "target=nan"), (["--target", "inf"], "target=inf"), (["--momentum", "nan"], "momentum=nan"),
])
def test_nonfinite_settings_are_one_line_and_write_nothing(tmp_path, capsys, flags, shown):
    line = train_expecting_error(train_args(tmp_path, *flags), capsys)
    assert line.endswith(f"{shown} is not accepted: use a finite number")
    assert not (tmp_path / "runs").exists()


def test_a_nonfinite_setting_in_a_preset_is_refused_too():
    config = Config()
    config.update({"walk": {"sigma": INF}}, "preset.toml")
    with pytest.raises(ConfigError, match="sigma=inf is not accepted: use a finite number"):
        config.validate()


def test_an_init_scale_beyond_the_dtype_is_one_line(tmp_path, capsys):
    line = train_expecting_error(train_args(tmp_path, "--init-scale", "1e308"), capsys)
    assert line.endswith("init_scale=1e+308 gives initial weights beyond the range of float32: use a smaller init_scale")
    assert not (tmp_path / "runs").exists()


# -- memory --------------------------------------------------------------------------------------
def test_generation_bytes_follows_its_formula():
    spec = NetworkSpec(n_inputs=4, n_outputs=2, n_hidden=4, ticks=2)  # A 6, K 11, D 66
    # 66 x (3 x 130 x 4 + 64 x 12) + 130 x 2 x ((4 x 6 + 2 x 4) x 4 + 100)
    assert generation_bytes(spec, rows=130, perturbations=64, episodes=2, dtype_bytes=4, copy_bytes=100) == 66 * (1560 + 768) + 260 * 228


def cartpole_spec(hidden: int = 4) -> NetworkSpec:
    return Policy.from_config("CartPole-v1", gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2), NetworkConfig(hidden=hidden)).spec


def test_check_memory_names_the_need_in_gib_and_the_largest_population_that_fits(monkeypatch):
    monkeypatch.setattr("rlfree.memory.device_memory", lambda device: (2**30, "this machine's memory"))
    config = Config()
    config.walk.population = 2**40
    spec = cartpole_spec()
    with pytest.raises(ConfigError) as error:
        check_memory(config, spec, torch.device("cpu"), torch.float32, 0)
    message = str(error.value)
    needs = generation_bytes(spec, 2**40 + 100, 2**39, 1, 4)
    assert f"needs about {needs / 2**30:,.1f} GiB per generation, more than the 1.0 GiB of this machine's memory" in message
    fits = int(message.split("at most --population ")[1].split()[0].replace(",", ""))
    assert fits % 2 == 0
    assert generation_bytes(spec, fits + 100, fits // 2, 1, 4) <= 2**30 < generation_bytes(spec, fits + 102, fits // 2 + 1, 1, 4)
    config.walk.population = fits
    check_memory(config, spec, torch.device("cpu"), torch.float32, 0)  # what it names fits


@pytest.mark.parametrize("flags", [["--population", "1099511627776"], ["--hidden", "1000000"],
                                   ["--population", "1099511627776", "--backend", "gym"]], ids=["population", "hidden", "gym-copies"])
def test_a_generation_larger_than_the_machine_is_one_line_and_writes_nothing(tmp_path, capsys, flags):
    line = train_expecting_error(train_args(tmp_path, "--env", "CartPole-v1", *flags), capsys)
    assert " GiB per generation, more than the " in line
    assert ("at most --population" in line) if "--population" in flags else ("use a smaller --hidden" in line)
    assert not (tmp_path / "runs").exists()
