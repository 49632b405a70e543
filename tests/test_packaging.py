"""rlfree as an installed package: rlfree.envs, lazy registration, the wheel, the `rlfree` command."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def python(code: str, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(extra_path) if extra_path else ""}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_users_own_envs_package_on_the_path_changes_nothing(tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("MINE = True\n")
    code = (
        "import envs; assert envs.MINE\n"
        "from rlfree.backend import choose_backend, resolve_env_id\n"
        "print(choose_backend(resolve_env_id('CartPole-v1'), 'auto'), resolve_env_id('rlfree/CatMouse-v0'))\n"
    )
    done = python(code, cwd=tmp_path, extra_path=tmp_path)  # the README's PYTHONPATH=. recipe
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["torch", "rlfree/CatMouse-v0"]


def test_importing_the_library_registers_no_env_until_an_id_is_resolved(tmp_path):
    code = (
        "import sys, gymnasium as gym\n"
        "import rlfree, rlfree.walk, rlfree.network, rlfree.evaluate, rlfree.checkpoint\n"
        "print('rlfree.envs' in sys.modules, 'rlfree/CatMouse-v0' in gym.registry)\n"
        "from rlfree.backend import resolve_env_id\n"
        "resolve_env_id('rlfree/CatMouseChase-v0')\n"
        "print('rlfree.envs' in sys.modules, 'rlfree/CatMouse-v0' in gym.registry)\n"
    )
    done = python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True", "True"]


@pytest.mark.parametrize("first", ["rlfree.envs", "rlfree.envs.cartpole", "rlfree.registry", "rlfree.batched"])
def test_envs_and_the_registry_import_in_either_order(tmp_path, first):
    code = f"import {first}\nfrom rlfree.registry import make_twin\nprint(make_twin('CartPole-v1', 2).num_envs)\n"
    done = python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel --no-deps`` of the checkout (with the installed setuptools: no download)."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("rlfree-*.whl")
    return path


def test_the_wheel_holds_rlfree_envs_presets_and_agents_and_no_top_level_envs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"rlfree", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for expected in [
        "rlfree/envs/__init__.py",
        "rlfree/envs/cartpole.py",
        "rlfree/envs/catmouse_twin.py",
        "rlfree/commands/train.py",
        "rlfree/agents/CartPole-v1.toml",
        "rlfree/agents/CartPole-v1/W.npy",
        "rlfree/agents/CartPole-v1/network.json",
        "rlfree/agents/rlfree-CatMouseDuel-v0/gen10/cat/W.npy",
    ]:
        assert expected in names
    shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "agents").rglob("*") if p.is_file() and p.suffix != ".gif")
    assert sorted(n.removeprefix("rlfree/") for n in names if n.startswith("rlfree/agents/")) == shipped
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "rlfree = rlfree.commands:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_rlfree_train_from_an_empty_folder_solves_with_a_non_editable_install_and_its_hints_work(wheel, tmp_path):
    """The wheel installed into its own folder (not the editable checkout), run from an empty folder."""
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    work = tmp_path / "empty"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    command = site / "bin" / "rlfree"
    train = subprocess.run([str(command), "train", "--env", "CartPole-v1"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stdout + train.stderr
    out = train.stdout
    assert f"preset: {site / 'rlfree' / 'agents' / 'CartPole-v1.toml'}" in out  # the wheel's own preset
    assert "solved: centre's mean" in out
    hints = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines()[-3:]}
    assert hints["watch it"].startswith("rlfree watch runs/CartPole-v1__")
    assert hints["TensorBoard"] == "tensorboard --logdir runs"
    watch_argv = hints["watch it"].split()[1:] + ["--no-render", "--episodes", "3"]
    watch = subprocess.run([str(command), *watch_argv], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert watch.returncode == 0, watch.stderr
    assert "mean return" in watch.stdout
    where = subprocess.run([sys.executable, "-c", "import rlfree.envs; print(rlfree.envs.__file__)"], cwd=work, env=env, capture_output=True, text=True)
    assert where.stdout.strip() == str(site / "rlfree" / "envs" / "__init__.py")


def test_python_dash_m_rlfree_lists_the_commands_and_rejects_an_unknown_one(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "rlfree", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0
    for name in ("train", "watch", "zoo", "bench", "fit", "tune"):
        assert f"  {name}" in listed.stdout
    unknown = subprocess.run([sys.executable, "-m", "rlfree", "trian"], cwd=tmp_path, capture_output=True, text=True)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "rlfree: error: unknown command 'trian'; choose one of train, watch, zoo, bench, fit, tune (rlfree --help)"
