"""Backpropagation baselines for ``rlfree fit``: the claim of the free-network reference tested.

The reference walks at random because "a completely free neural model [...] could be trained
with backprop, [but] that would still suffer from vanishing/exploding gradients due to the weight
matrix being applied repeatedly". Here the same free network is trained by backpropagation
through time (method ``bptt_free``: :func:`rlfree.fit.sequence_outputs`, with the walks' mapping
of outputs onto the targets, on weights that autograd follows, Adam), beside torch's own ``rnn``
(tanh), ``gru`` and ``lstm`` with a linear read-out, each given the hidden width whose parameter
count is closest to the free network's.

Every step records what the claim is about: ``grad_norm``, the norm of the whole gradient over
the parameters, and ``first_input_grad`` / ``last_input_grad``, the mean norm of the loss's
gradient with respect to the input vector of the first and of the last tick (how much of the
error reaches the start of a sequence; their ratio falls with length where gradients vanish).
No gradient clipping: it would hide the explosions this is meant to show.
"""

from __future__ import annotations

import torch
from torch import nn

from rlfree.fit import FitConfig, datapoint_losses, network_spec, sequence_outputs
from rlfree.seeding import weights_generator
from rlfree.sequence_tasks import SequenceTask, encode

RECURRENT_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks per cell: torch's parameter count is GATES * h * (I + h + 2)


class FreeNetworkModule(nn.Module):
    """The free network as an ``nn.Module``: one parameter, the flat weights (D,) of :mod:`rlfree.network`."""

    def __init__(self, task: SequenceTask, config: FitConfig, seed: int):
        super().__init__()
        self.task, self.spec = task, network_spec(task, config)
        self.sequence_output = config.sequence_output
        self.weights = nn.Parameter(self.spec.initial_params(weights_generator(seed), config.init_scale))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs: (B, T, I) encoded -> outputs (B, O), or (B, T, O) with sequence_output."""
        return sequence_outputs(self.task, self.spec, self.weights[None], inputs[None], self.sequence_output)[0]


def recurrent_params(cell: str, inputs: int, outputs: int, hidden: int) -> int:
    """Parameters of torch's ``cell`` of width ``hidden`` (two bias vectors) and a linear read-out."""
    return GATES[cell] * hidden * (inputs + hidden + 2) + hidden * outputs + outputs


def matching_width(cell: str, inputs: int, outputs: int, target: int) -> int:
    """The hidden width whose parameter count is closest to ``target`` (the free network's D)."""
    return min(range(1, 1025), key=lambda h: abs(recurrent_params(cell, inputs, outputs, h) - target))


class RecurrentModule(nn.Module):
    """torch's RNN, GRU or LSTM, a linear read-out, and a softmax for classification."""

    def __init__(self, cell: str, task: SequenceTask, config: FitConfig):
        super().__init__()
        free_params = network_spec(task, config).n_params
        width = matching_width(cell, task.n_inputs, task.n_outputs, free_params)
        self.recurrent = RECURRENT_CELLS[cell](task.n_inputs, width, batch_first=True)
        self.read_out = nn.Linear(width, task.n_outputs)
        self.softmax = task.loss == "cross_entropy"
        self.sequence_output = config.sequence_output

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs: (B, T, I) encoded -> outputs (B, O), or (B, T, O) with sequence_output."""
        states, _ = self.recurrent(inputs)  # (B, T, h)
        outputs = self.read_out(states if self.sequence_output else states[:, -1])
        return torch.softmax(outputs, dim=-1) if self.softmax else outputs


class BackpropFit:
    """A module trained by backpropagation through time with Adam (a :class:`rlfree.fit.Learner`)."""

    def __init__(self, name: str, module: nn.Module, task: SequenceTask, config: FitConfig, seed: int,
                 device: str | torch.device = "cpu"):
        self.name, self.task, self.config, self.seed = name, task, config, seed
        self.device = torch.device(device)
        self.module = module.to(self.device)
        self.n_params = sum(p.numel() for p in module.parameters())
        self.optimizer = torch.optim.Adam(module.parameters(), lr=config.bptt_lr)

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor, track_inputs: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean loss, the encoded inputs (B, T, I)) on inputs and targets as drawn."""
        encoded = encode(self.task, inputs.to(self.device)).requires_grad_(track_inputs)
        losses = datapoint_losses(self.task.loss, self.module(encoded)[None], targets.to(self.device)[None])  # (1, B)
        return losses.mean(), encoded

    def step(self, index: int) -> dict[str, float]:
        inputs, targets = self.task.batch(self.seed, index, self.config.bptt_batch)
        loss, encoded = self.loss(inputs, targets, track_inputs=True)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in self.module.parameters() if p.grad is not None]
        grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        tick_norms = encoded.grad.norm(dim=2).mean(dim=0)  # (T,) per input tick, averaged over the batch
        self.optimizer.step()
        return {"train_loss": loss.item(), "grad_norm": float(grad_norm),
                "first_input_grad": float(tick_norms[0]), "last_input_grad": float(tick_norms[-1])}

    @torch.no_grad()
    def test_loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float(self.loss(inputs, targets)[0])


def free_network_bptt(task: SequenceTask, config: FitConfig, seed: int, device: str | torch.device = "cpu") -> BackpropFit:
    """Method ``bptt_free``: the walk's own network, trained by backpropagation through time."""
    return BackpropFit("bptt_free", FreeNetworkModule(task, config, seed), task, config, seed, device)


def torch_recurrent(cell: str):
    """Method ``rnn``, ``gru`` or ``lstm``: torch's cell at about the free network's parameter count."""

    def build(task: SequenceTask, config: FitConfig, seed: int, device: str | torch.device = "cpu") -> BackpropFit:
        with torch.random.fork_rng(devices=[]):  # torch's own initialisation draws from the global generator
            torch.manual_seed(seed)
            module = RecurrentModule(cell, task, config)
        return BackpropFit(cell, module, task, config, seed, device)

    return build
