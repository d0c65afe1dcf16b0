"""Small-sample intervals for the insight jobs (no scipy here: closed forms and the normal approximation).

- `wilson(k, n)`: a proportion (conversion, bounce) from k successes in n trials.
- `poisson(k)`: the rate behind a count of k events (orders paid in a window), as a (low, high) count.
- `beta_mean(k, n, prior_mean, prior_n)`: a conversion shrunk toward a prior, so that 1 buyer of 1 clicker
  does not outrank 40 of 100.
- `prob_above(k, ratio)`: how sure we are that a ratio estimated from k counted events exceeds 1.
"""
from __future__ import annotations

import math
from statistics import NormalDist

_N = NormalDist()


def wilson(k: float, n: float, z: float = 1.645) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    p = min(max(k / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def poisson(k: float, z: float = 1.645) -> tuple[float, float]:
    """Garwood's interval for a Poisson mean from k events, by the Wilson–Hilferty cube-root approximation
    of the chi-square quantiles (within a few percent of the exact bounds from k = 0 up)."""
    lo = 0.0 if k <= 0 else k * max(0.0, 1 - 1 / (9 * k) - z / (3 * math.sqrt(k))) ** 3
    k1 = k + 1
    hi = k1 * (1 - 1 / (9 * k1) + z / (3 * math.sqrt(k1))) ** 3
    return lo, hi


def beta_mean(k: float, n: float, prior_mean: float, prior_n: float) -> float:
    """Posterior mean of a Beta(prior_mean * prior_n, (1 - prior_mean) * prior_n) prior after k of n."""
    return (k + prior_mean * prior_n) / (n + prior_n)


def prob_above(k: float, ratio: float) -> float:
    """P(true ratio > 1) when `ratio` is estimated from k Poisson-counted events: log(ratio) is taken as
    normal with standard error 1/sqrt(k + 0.5) (the half keeps k = 0 finite)."""
    if ratio <= 0:
        return 0.0
    return _N.cdf(math.log(ratio) * math.sqrt(k + 0.5))
