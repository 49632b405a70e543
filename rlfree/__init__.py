"""rlfree: recurrent free networks trained by the smart random walk, without backpropagation."""

__version__ = "0.1.0"

import envs as _envs  # noqa: E402,F401  registers the built-in environments and twins
