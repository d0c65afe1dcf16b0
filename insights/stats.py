"""Small-sample intervals for the insight jobs (no scipy here: closed forms and the normal approximation).

- `wilson(k, n)`: a proportion (conversion, bounce) from k successes in n trials.
- `poisson(k)`: the rate behind a count of k events (orders paid in a window), as a (low, high) count.
- `beta_mean(k, n, prior_mean, prior_n)`: a conversion shrunk toward a prior, so that 1 buyer of 1 clicker
  does not outrank 40 of 100.
- `prob_above(k, ratio)`: how sure we are that a ratio estimated from k counted events exceeds 1.
- `binomial_tail(k, n, q)`, `poisson_tail(k, mu)`: p-values of a count at least this high (the risk rules).
- `poisson_binomial_tail(k, qs)`: the same for trials that each have their own probability.
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


def binomial_tail(k: int, n: int, q: float) -> float:
    """P(at least k of n), each with probability q. Summed in floats from the term nearest the mode outward
    (the upper tail itself when k is above the mean, else one minus the lower tail): a big room's hundreds of
    visits neither overflow a float nor cost a big-integer binomial per term."""
    if k <= 0:
        return 1.0
    if k > n or q <= 0.0:
        return 0.0
    if q >= 1.0:
        return 1.0
    odds = q / (1.0 - q)
    upper = k > n * q
    i = k if upper else k - 1
    term = math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                    + i * math.log(q) + (n - i) * math.log1p(-q))
    total = term
    while term > total * 1e-17:
        if upper:
            i += 1
            if i > n:
                break
            term *= (n - i + 1) / i * odds
        else:
            if i == 0:
                break
            term *= i / (n - i + 1) / odds
            i -= 1
        total += term
    return min(1.0, total) if upper else max(0.0, 1.0 - total)


def poisson_tail(k: int, mu: float) -> float:
    """P(at least k) of a Poisson count with mean mu."""
    if k <= 0:
        return 1.0
    term = below = math.exp(-mu)
    for i in range(1, k):
        term *= mu / i
        below += term
    return max(0.0, 1.0 - below)


def poisson_binomial_tail(k: int, qs) -> float:
    """P(at least k successes) of independent trials with the probabilities qs (each visit at its own usual
    rate). Exact: the chance of at most len(qs) - k failures, carried trial by trial, so a tail near k = n
    (where the rules ask) costs n * (n - k + 1) steps."""
    qs = list(qs)
    n = len(qs)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    m = n - k
    dist = [1.0] + [0.0] * m     # dist[j]: the chance of j failures so far (more than m can never come back)
    for q in qs:
        f = 1.0 - q
        for j in range(m, 0, -1):
            dist[j] = dist[j] * q + dist[j - 1] * f
        dist[0] *= q
    return min(1.0, sum(dist))
