"""Where rlfree's agents act: built-in environments and batched tensor twins (``rlfree.envs``).

This folder sits at the top of the repository and installs as the sub-package ``rlfree.envs``
(never as a top-level ``envs``, which a user's own package of that name would shadow).

Importing it registers the cat-and-mouse grid world and the weight-agnostic networks reference's
cart-pole swing-up with gymnasium, under the ``rlfree/`` namespace. :data:`TWINS` names the batched tensor twin of every task that has one, as
``"module:Class"`` strings, so that a twin's module is imported only when it is first used;
:mod:`rlfree.registry` reads it the first time an id is resolved. Nothing here imports the
registry: the dependency points one way (registry -> envs -> :mod:`rlfree.batched`).
"""

from rlfree.envs import cartpole_swingup
from rlfree.envs.catmouse import TWIN_ENTRY_POINTS as CATMOUSE_TWINS
from rlfree.envs.catmouse import register_envs

CLASSIC_CONTROL_TWINS = {
    "CartPole-v1": "rlfree.envs.cartpole:CartPoleTwin",
    "Acrobot-v1": "rlfree.envs.acrobot:AcrobotTwin",
    "MountainCar-v0": "rlfree.envs.mountain_car:MountainCarTwin",
    "MountainCarContinuous-v0": "rlfree.envs.mountain_car_continuous:MountainCarContinuousTwin",
    "Pendulum-v1": "rlfree.envs.pendulum:PendulumTwin",
}
TWINS = {**CLASSIC_CONTROL_TWINS, **CATMOUSE_TWINS, cartpole_swingup.ENV_ID: cartpole_swingup.TWIN_ENTRY_POINT}

register_envs()
cartpole_swingup.register_env()
