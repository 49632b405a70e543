"""rlfree: recurrent free networks trained by the smart random walk, without backpropagation.

Importing ``rlfree`` or any of its modules registers no environment: the built-in ids
(``rlfree/CatMouse*``) and twins are registered the first time an id is resolved
(:mod:`rlfree.registry`), or by ``import rlfree.envs``.
"""

__version__ = "0.1.0"
