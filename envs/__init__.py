"""Where rlfree's agents act: built-in environments and batched tensor twins.

Importing this package (``import rlfree`` does it) registers

- the cat-and-mouse grid world with gymnasium, under the ``rlfree/`` namespace;
- a batched tensor twin for every task that has one, in :mod:`rlfree.batched`'s registry.

Twins are registered as ``"module:Class"`` strings, so a twin's module is imported only when
it is first used.
"""


from rlfree.batched import register_twin

CLASSIC_CONTROL_TWINS = {
    "CartPole-v1": "envs.cartpole:CartPoleTwin",
    "Acrobot-v1": "envs.acrobot:AcrobotTwin",
    "MountainCar-v0": "envs.mountain_car:MountainCarTwin",
    "MountainCarContinuous-v0": "envs.mountain_car_continuous:MountainCarContinuousTwin",
    "Pendulum-v1": "envs.pendulum:PendulumTwin",
}

for _env_id, _entry_point in CLASSIC_CONTROL_TWINS.items():
    register_twin(_env_id, _entry_point)

from envs.catmouse import register_envs as _register_catmouse  # noqa: E402

_register_catmouse()
