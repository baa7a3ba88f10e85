"""Small-number-respecting statistics for the trend rule. Pure functions on the standard library.

- Proportions (e.g. % of audits answering yes): the Wilson score interval, which stays honest for small
  samples and for rates near 0% or 100% (3 cases out of 3 gives 44%–100% at 95%, not "100%").
- Counts per month (e.g. complaints about communication): the exact Poisson test, computed from the
  Poisson distribution itself (no normal approximation), one-sided in the direction of worsening.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion, as fractions in [0, 1]."""
    if n <= 0:
        raise ValueError("a proportion needs a sample of at least one")
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed in log space so large means do not overflow."""
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    total = 0.0
    log_term = -mean  # log P(X = 0)
    for i in range(k + 1):
        if i > 0:
            log_term += math.log(mean) - math.log(i)
        total += math.exp(log_term)
    return min(1.0, total)


def poisson_p_at_least(k: int, mean: float) -> float:
    """One-sided exact p-value: P(X >= k) when X ~ Poisson(mean)."""
    return 1.0 - poisson_cdf(k - 1, mean) if k > 0 else 1.0


def poisson_p_at_most(k: int, mean: float) -> float:
    """One-sided exact p-value: P(X <= k) when X ~ Poisson(mean)."""
    return poisson_cdf(k, mean)
