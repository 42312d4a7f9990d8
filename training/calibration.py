"""Platt scaling: map a model's logit ``z`` to the probability ``sigmoid(a * z + b)``.

Training with ``pos_weight`` ranks well but pushes probabilities towards fraud; a logistic fit of the labels on
the single logit feature, on the validation slice, pulls them back to the observed rates. The fit is a damped
Newton method in float64 with a tiny ridge on ``a`` (so separable data stays finite): the same inputs give
the same ``(a, b)`` on every machine, no randomness, no solver options.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

C = 1e4  # inverse strength of the ridge a**2 / 2, as in sklearn's LogisticRegression(C=...) (b is not penalized)
MAX_ITERATIONS = 100
TOLERANCE = 1e-10


@dataclass(frozen=True)
class Platt:
    """The fitted ``sigmoid(a * logit + b)``; ``Platt()`` is the identity (plain sigmoid)."""

    a: float = 1.0
    b: float = 0.0

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for ``logits``, float64."""
        return _sigmoid(self.a * np.asarray(logits, dtype=np.float64) + self.b)


def fit_platt(logits: np.ndarray, y: np.ndarray) -> Platt:
    """Fit ``(a, b)`` by maximum likelihood of 0/1 labels ``y`` given ``logits``; both classes are required."""
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64)
    if z.ndim != 1 or z.shape != labels.shape or not np.all(np.isfinite(z)):
        raise ValueError(f"logits {z.shape} and labels {labels.shape} must be equal 1-d arrays of finite values")
    if not (np.any(labels == 1) and np.any(labels == 0)):
        raise ValueError("Platt scaling needs both classes among the calibration labels")
    n = len(z)
    ridge = 1.0 / C
    X = np.stack([z, np.ones(n)], axis=1)
    theta = np.array([1.0, 0.0])
    loss = _penalized_nll(X, labels, theta, ridge)
    for _ in range(MAX_ITERATIONS):
        p = _sigmoid(X @ theta)
        gradient = X.T @ (p - labels) + np.array([ridge * theta[0], 0.0])
        hessian = (X * (p * (1.0 - p))[:, None]).T @ X + np.diag([ridge, 1e-12])
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-8:  # halve the step until the loss does not grow
            candidate = theta - scale * step
            candidate_loss = _penalized_nll(X, labels, candidate, ridge)
            if candidate_loss <= loss:
                break
            scale /= 2
        else:
            break
        theta, improvement, loss = candidate, loss - candidate_loss, candidate_loss
        if improvement <= TOLERANCE * n:
            break
    return Platt(a=float(theta[0]), b=float(theta[1]))


def _penalized_nll(X: np.ndarray, y: np.ndarray, theta: np.ndarray, ridge: float) -> float:
    margin = X @ theta
    return float(np.sum(np.logaddexp(0.0, margin) - y * margin) + ridge * theta[0] ** 2 / 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.exp(-np.logaddexp(0.0, -x))
    return out
