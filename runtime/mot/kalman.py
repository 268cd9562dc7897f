"""Constant-velocity Kalman filter on boxes, vectorised over tracks (the SORT / DeepSORT / ByteTrack motion model).

State ``(cx, cy, a, h, vcx, vcy, va, vh)``: box centre, aspect ratio ``a = w / h``, height, and their velocities
per frame. The measurement is ``(cx, cy, a, h)``. Process and measurement noise scale with the box height, so a
large near box may move more pixels per frame than a small far one; the aspect ratio gets small fixed noise
(people keep their shape). The noise weights are DeepSORT's (1/20 of the height for positions, 1/160 for
velocities). Every method takes stacked tracks, ``means (N, 8)`` and ``covs (N, 8, 8)``, so one call predicts
every track of a frame.
"""
from __future__ import annotations

import numpy as np

from .params import CHI2_95_4DOF

__all__ = ["KalmanBoxFilter", "xyxy_to_xyah", "xyah_to_xyxy", "CHI2_95_4DOF"]


def xyxy_to_xyah(boxes) -> np.ndarray:
    """``(N, 4)`` corner boxes ``x1, y1, x2, y2`` → ``cx, cy, w / h, h``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, w / h, h], axis=1)


def xyah_to_xyxy(xyah) -> np.ndarray:
    """``(N, 4+)`` ``cx, cy, a, h`` (extra columns such as velocities ignored) → corner boxes. A height or
    aspect ratio that drifted below zero (a long prediction) gives an empty box at the centre, not a flipped one."""
    s = np.asarray(xyah, dtype=np.float64).reshape(len(xyah), -1)
    h = np.maximum(s[:, 3], 0.0)
    w = np.maximum(s[:, 2], 0.0) * h
    return np.stack([s[:, 0] - w / 2, s[:, 1] - h / 2, s[:, 0] + w / 2, s[:, 1] + h / 2], axis=1)


class KalmanBoxFilter:
    """The motion model: ``initiate`` new tracks, ``predict`` one frame ahead, ``update`` with matched boxes,
    ``gating_distance`` for plausibility. Stateless: tracks keep their own mean and covariance."""

    def __init__(self, pos_weight: float = 1.0 / 20, vel_weight: float = 1.0 / 160):
        self.pos_weight = pos_weight
        self.vel_weight = vel_weight
        self.F = np.eye(8)
        self.F[:4, 4:] = np.eye(4)        # x ← x + v (one frame)
        self.H = np.eye(4, 8)             # we observe the first four state entries

    @staticmethod
    def _std(h: np.ndarray, k: float, aspect: float) -> np.ndarray:
        """``(N, 4)`` standard deviations ``k·h, k·h, aspect, k·h`` (position-like entries scale with height)."""
        kh = k * np.abs(h)
        return np.stack([kh, kh, np.full_like(kh, aspect), kh], axis=1)

    def initiate(self, xyah) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from measurements ``(N, 4)``: zero velocity, wide velocity uncertainty."""
        z = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
        means = np.concatenate([z, np.zeros_like(z)], axis=1)
        h = z[:, 3]
        std = np.concatenate([self._std(h, 2 * self.pos_weight, 1e-2), self._std(h, 10 * self.vel_weight, 1e-5)], 1)
        return means, _diag(std**2)

    def predict(self, means, covs) -> tuple[np.ndarray, np.ndarray]:
        """Every track one frame ahead: ``x ← F x``, ``P ← F P Fᵀ + Q`` (Q scaled by each track's height)."""
        means, covs = np.asarray(means, dtype=np.float64), np.asarray(covs, dtype=np.float64)
        if len(means) == 0:
            return means.reshape(0, 8), covs.reshape(0, 8, 8)
        h = means[:, 3]
        std = np.concatenate([self._std(h, self.pos_weight, 1e-2), self._std(h, self.vel_weight, 1e-5)], 1)
        return means @ self.F.T, self.F @ covs @ self.F.T + _diag(std**2)

    def project(self, means, covs) -> tuple[np.ndarray, np.ndarray]:
        """The predicted measurement and its covariance ``S = H P Hᵀ + R`` for each track."""
        std = self._std(means[:, 3], self.pos_weight, 1e-1)
        return means[:, :4], covs[:, :4, :4] + _diag(std**2)

    def update(self, means, covs, xyah) -> tuple[np.ndarray, np.ndarray]:
        """Correct tracks ``(N, 8)`` with their matched measurements ``(N, 4)`` (row i with row i)."""
        means, covs = np.asarray(means, dtype=np.float64), np.asarray(covs, dtype=np.float64)
        z = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
        if len(means) == 0:
            return means.reshape(0, 8), covs.reshape(0, 8, 8)
        zp, S = self.project(means, covs)
        PHt = covs[:, :, :4]                                        # P Hᵀ, since H picks the first 4 entries
        K = np.swapaxes(np.linalg.solve(S, np.swapaxes(PHt, 1, 2)), 1, 2)   # P Hᵀ S⁻¹ (S symmetric)
        new_means = means + np.einsum("nij,nj->ni", K, z - zp)
        new_covs = covs - K @ S @ np.swapaxes(K, 1, 2)
        return new_means, (new_covs + np.swapaxes(new_covs, 1, 2)) / 2   # keep P symmetric against round-off

    def gating_distance(self, means, covs, xyah, only_position: bool = False) -> np.ndarray:
        """Squared Mahalanobis distances ``(N, M)`` between N tracks' predicted measurements and M boxes
        (``cx, cy, a, h``). Compare with :data:`CHI2_95_4DOF`; ``only_position`` uses the centre alone (2 dof:
        compare with 5.9915)."""
        means, covs = np.asarray(means, dtype=np.float64), np.asarray(covs, dtype=np.float64)
        z = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
        if len(means) == 0 or len(z) == 0:
            return np.zeros((len(means), len(z)))
        zp, S = self.project(means, covs)
        k = 2 if only_position else 4
        d = z[None, :, :k] - zp[:, None, :k]                         # (N, M, k)
        x = np.linalg.solve(S[:, None, :k, :k], d[..., None])[..., 0]   # S⁻¹ d, broadcast over boxes
        return np.einsum("nmk,nmk->nm", d, x)


def _diag(v: np.ndarray) -> np.ndarray:
    """``(N, D)`` → ``(N, D, D)`` diagonal matrices."""
    out = np.zeros(v.shape + (v.shape[-1],))
    idx = np.arange(v.shape[-1])
    out[:, idx, idx] = v
    return out
