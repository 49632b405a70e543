"""The README's Python examples run as printed (with the shipped agent for the run folder they name)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_the_from_python_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    agent_block, train_block = python_blocks("From Python")
    shipped = README.parent / "agents" / "CartPole-v1"
    exec(re.sub(r'"runs/CartPole-v1__rlfree__0__\d+"', repr(str(shipped)), agent_block), {})
    exec(train_block, {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[") and out[-1].startswith("True ")  # ten returns; Acrobot-v1 solved
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_the_numpy_only_runner_plays_the_shipped_agent(monkeypatch, capsys):
    monkeypatch.chdir(README.parent)
    (block,) = python_blocks("A saved agent without rlfree")
    exec(block, {})
    assert float(capsys.readouterr().out) >= 475


def test_the_numpy_only_runner_applies_normalisation_feed_forward_and_clip_as_rlfree_does(tmp_path, monkeypatch, capsys):
    import gymnasium as gym

    from rlfree.agent import load_agent
    from rlfree.commands import train

    (block,) = python_blocks("A saved agent without rlfree")
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    argv = ["--config", str(empty), "--env", "Pendulum-v1", "--normalize-obs", "--feed-forward", "--hidden", "0", "--ticks", "1",
            "--activation", "identity", "--action-mapping", "clip", "--population", "6", "--eval-episodes", "2", "-n", "3",
            "--target", "1e9", "--logdir", str(tmp_path / "runs")]
    assert train.main(argv) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    folder = run_dir / "checkpoints" / "latest"
    expected, _ = load_agent(folder).play(gym.make("Pendulum-v1"), seed=1)
    capsys.readouterr()
    exec(block.replace('"agents/CartPole-v1"', repr(str(folder))), {})
    assert float(capsys.readouterr().out) == pytest.approx(expected, rel=1e-6)  # rlfree casts actions to the space's float32
