"""The README's Python examples run as printed (with the shipped agent for the run folder they name)."""

import re
from pathlib import Path

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
