"""When transactions happen: a Poisson process, optionally modulated by the hour of day.

``DailyCycle`` is an intensity over the UTC hour of day, linear between hourly knots and scaled to
mean 1 over a day: quiet at night (about 0.2x), peaks at lunch and in the evening. The arrival times
of the modulated process are drawn exactly by thinning (Lewis-Shedler): candidates at the peak rate,
each kept with probability intensity / peak.
"""

from __future__ import annotations

from random import Random

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# Relative activity at the start of each UTC hour, 0..23 (scaled below to mean 1 over the day).
HOURLY_SHAPE: tuple[float, ...] = (
    0.30, 0.22, 0.20, 0.20, 0.22, 0.30, 0.50, 0.80, 1.05, 1.15, 1.25, 1.45,
    1.75, 1.70, 1.35, 1.20, 1.20, 1.35, 1.65, 1.90, 1.85, 1.50, 1.00, 0.55,
)  # fmt: skip


class DailyCycle:
    """Intensity multiplier by time of day, mean 1 over 24 hours."""

    def __init__(self, shape: tuple[float, ...] = HOURLY_SHAPE) -> None:
        if len(shape) != 24 or min(shape) <= 0:
            raise ValueError("shape must hold 24 positive hourly values")
        mean = sum(shape) / 24  # the mean of the periodic linear interpolation equals the knots' mean
        self.knots = tuple(v / mean for v in shape)
        self.peak = max(self.knots)

    def intensity(self, ts_ms: float) -> float:
        hour = (ts_ms % DAY_MS) / HOUR_MS
        h = int(hour)
        frac = hour - h
        return self.knots[h] + (self.knots[(h + 1) % 24] - self.knots[h]) * frac


class ArrivalProcess:
    """Successive arrival times, in seconds after ``start_ts``, for a (possibly varying) mean rate.

    ``next(t, rate)`` returns the first arrival after ``t``; ``rate`` may change between calls (the
    process is memoryless), which is how the generator adjusts it at the drift point.
    """

    def __init__(self, rng: Random, start_ts: int, cycle: DailyCycle | None = None) -> None:
        self.rng = rng
        self.start_ts = start_ts
        self.cycle = cycle

    def next(self, t: float, rate: float) -> float:
        rng = self.rng
        if self.cycle is None:
            return t + rng.expovariate(rate)
        peak = self.cycle.peak
        while True:
            t += rng.expovariate(rate * peak)
            if rng.random() * peak < self.cycle.intensity(self.start_ts + t * 1000.0):
                return t
