from random import Random

import numpy as np
import pytest

from rtml.datagen.arrivals import DAY_MS, HOUR_MS, ArrivalProcess, DailyCycle


def test_daily_cycle_has_mean_one_quiet_nights_and_two_peaks():
    cycle = DailyCycle()
    values = [cycle.intensity(ms) for ms in range(0, DAY_MS, 60_000)]
    assert np.mean(values) == pytest.approx(1.0, abs=1e-3)
    assert cycle.intensity(3 * HOUR_MS) == pytest.approx(0.2, abs=0.05)
    assert cycle.intensity(12 * HOUR_MS) > 1.5 and cycle.intensity(19 * HOUR_MS) > 1.5
    assert cycle.intensity(15 * HOUR_MS) < cycle.intensity(12 * HOUR_MS)
    assert cycle.intensity(5 * DAY_MS + 3 * HOUR_MS) == cycle.intensity(3 * HOUR_MS)  # periodic
    assert max(values) <= cycle.peak


def test_daily_cycle_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="24 positive"):
        DailyCycle((1.0,) * 23)


def arrivals(process, rate, n):
    t, out = 0.0, []
    for _ in range(n):
        t = process.next(t, rate)
        out.append(t)
    return np.array(out)


def test_plain_poisson_rate_and_exponential_gaps():
    times = arrivals(ArrivalProcess(Random(1), 0), 20.0, 20_000)
    gaps = np.diff(times)
    assert (gaps >= 0).all()
    assert 20_000 / times[-1] == pytest.approx(20.0, rel=0.03)
    assert np.std(gaps) == pytest.approx(np.mean(gaps), rel=0.05)  # exponential: std == mean


def test_thinning_follows_the_cycle_and_keeps_the_daily_mean():
    rate = 0.1  # ~8640 arrivals a day
    times = arrivals(ArrivalProcess(Random(2), 0, DailyCycle()), rate, 30_000)
    two_days = times[times < 2 * 86_400]
    assert len(two_days) / (2 * 86_400) == pytest.approx(rate, rel=0.04)
    hours = (two_days // 3600 % 24).astype(int)
    per_hour = np.bincount(hours, minlength=24)
    assert per_hour[[12, 13, 19, 20]].mean() > 5 * per_hour[[2, 3, 4]].mean()


def test_start_ts_sets_the_clock():
    # Starting at 03:00 UTC, the first hour is quiet; starting at noon it is busy.
    night = arrivals(ArrivalProcess(Random(3), 3 * HOUR_MS, DailyCycle()), 1.0, 5000)
    noon = arrivals(ArrivalProcess(Random(3), 12 * HOUR_MS, DailyCycle()), 1.0, 5000)
    assert (night < 1800).sum() * 4 < (noon < 1800).sum()
