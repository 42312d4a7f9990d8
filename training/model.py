"""The fraud scorer: an MLP over raw features, with standardization and NaN handling inside the graph.

``FraudMLP.forward`` returns logits (what ``BCEWithLogitsLoss`` and DDP train on); ``ScoreModel`` wraps it
with the calibrated sigmoid ``sigmoid(a * logit + b)`` and is what gets exported, so the ONNX graph takes RAW
features in the registry's order and returns a probability per row. The standardization statistics are
buffers, computed on the train slice only; a NaN input is replaced by the train mean, i.e. 0 after
standardization, and an input outside the train slice's range is clipped to it: the network is not asked to
extrapolate (a count that keeps growing past anything it trained on scores as the largest it saw, not as a
ever-stronger fraud signal). The calibration ``(a, b)`` are buffers of ``ScoreModel``, not of ``FraudMLP``: they are
fitted after training and are no part of the weights that DDP keeps identical across ranks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

MIN_STD = 1e-6


class ModelConfig(BaseModel):
    """Architecture of a ``FraudMLP``; ``hidden`` lists the hidden layer widths, input to output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: tuple[int, ...] = Field(default=(64, 32), min_length=1)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class FraudMLP(nn.Module):
    """MLP over standardized features; ``forward(x)`` maps raw float32 [N, F] (NaN allowed) to logits [N]."""

    mean: torch.Tensor
    std: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, n_features: int, hidden: Sequence[int] = (64, 32), dropout: float = 0.0) -> None:
        super().__init__()
        if n_features < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"need n_features >= 1 and positive hidden sizes, got {n_features}, {tuple(hidden)}")
        self.n_features = n_features
        self.hidden = tuple(hidden)
        self.dropout = dropout
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("low", torch.full((n_features,), -torch.inf))  # the train slice's range
        self.register_buffer("high", torch.full((n_features,), torch.inf))
        layers: list[nn.Module] = []
        width = n_features
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def fit_standardization(self, train_features: np.ndarray) -> FraudMLP:
        """Set mean/std and the clipping range from the TRAIN slice (NaNs ignored); constant or empty columns get
        std 1, an empty column mean 0 and the range [0, 0]: a feature never seen in training (a live-only view a
        seeded history lacks) reads as 0 whatever it is when scoring, so weights it never trained cannot act."""
        X = np.asarray(train_features, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"train features must be [N, {self.n_features}], got {list(X.shape)}")
        observed = ~np.isnan(X)
        counts = observed.sum(axis=0)
        filled = np.where(observed, X, 0.0)
        mean = np.divide(filled.sum(axis=0), counts, out=np.zeros(X.shape[1]), where=counts > 0)
        centered = np.where(observed, X - mean, 0.0)
        var = np.divide((centered**2).sum(axis=0), counts, out=np.ones(X.shape[1]), where=counts > 0)
        std = np.sqrt(var)
        std[~(std >= MIN_STD)] = 1.0
        low = np.where(counts > 0, np.min(np.where(observed, X, np.inf), axis=0), 0.0)
        high = np.where(counts > 0, np.max(np.where(observed, X, -np.inf), axis=0), 0.0)
        with torch.no_grad():
            self.mean.copy_(torch.from_numpy(mean))
            self.std.copy_(torch.from_numpy(std))
            self.low.copy_(torch.from_numpy(low))
            self.high.copy_(torch.from_numpy(high))
        return self

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.where(torch.isnan(x), self.mean, x)
        x = torch.minimum(torch.maximum(x, self.low), self.high)  # within the train range (NaN: the mean, inside)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.standardize(x)).squeeze(-1)

    def predict_logits(self, x: np.ndarray | torch.Tensor, batch_size: int = 65536) -> np.ndarray:
        """Logits for raw features, in eval mode, on the model's device; returns float32 [N]."""
        return _predict(self, x, self.mean.device, batch_size)

    def predict_proba(self, x: np.ndarray | torch.Tensor, batch_size: int = 65536) -> np.ndarray:
        """Uncalibrated probabilities (plain sigmoid of the logits) for raw features; returns float32 [N]."""
        return torch.sigmoid(torch.from_numpy(self.predict_logits(x, batch_size))).numpy()


class ScoreModel(nn.Module):
    """``FraudMLP`` plus the calibrated sigmoid: raw features [N, F] -> ``sigmoid(a * logit + b)`` [N].

    This is the exported graph. ``a=1, b=0`` (the default) is the plain sigmoid.
    """

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, model: FraudMLP, a: float = 1.0, b: float = 0.0) -> None:
        super().__init__()
        self.model = model
        device = model.mean.device
        self.register_buffer("scale", torch.tensor(a, dtype=torch.float32, device=device))
        self.register_buffer("shift", torch.tensor(b, dtype=torch.float32, device=device))

    @property
    def a(self) -> float:
        return float(self.scale)

    @property
    def b(self) -> float:
        return float(self.shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.scale * self.model(x) + self.shift)

    def predict_proba(self, x: np.ndarray | torch.Tensor, batch_size: int = 65536) -> np.ndarray:
        """Calibrated probabilities for raw features, in eval mode, on the model's device; returns float32 [N]."""
        return _predict(self, x, self.model.mean.device, batch_size)


def _predict(module: nn.Module, x: np.ndarray | torch.Tensor, device: torch.device, batch_size: int) -> np.ndarray:
    """``module`` over ``x`` in eval mode and batches, without gradients; float32 numpy [N]."""
    was_training = module.training
    module.eval()
    tensor = torch.as_tensor(x, dtype=torch.float32)
    parts = []
    with torch.no_grad():
        for start in range(0, len(tensor), batch_size):
            parts.append(module(tensor[start : start + batch_size].to(device)).float().cpu())
    module.train(was_training)
    return torch.cat(parts).numpy() if parts else np.zeros(0, dtype=np.float32)


def fraud_model_from_config(
    config: ModelConfig | Mapping[str, Any], n_features: int, train_features: np.ndarray | None = None
) -> FraudMLP:
    """Build a ``FraudMLP`` from a config (object or mapping); fit standardization when train features are given."""
    settings = config if isinstance(config, ModelConfig) else ModelConfig.model_validate(dict(config))
    model = FraudMLP(n_features, hidden=settings.hidden, dropout=settings.dropout)
    if train_features is not None:
        model.fit_standardization(train_features)
    return model
