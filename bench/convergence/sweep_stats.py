# SPDX-License-Identifier: BSD-2-Clause
"""Statistics of the convergence sweep: mean, sample standard deviation,
and the comparison (paired by seed, else Welch's) that turns K runs per
cell into a verdict (agrees / does not / cannot tell).  Standard library only: the
sweep must run where numpy is not importable."""

import math
import statistics

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom
# (rounded down to an integer: conservative); 1.96 beyond
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df):
    """The 97.5 % quantile of Student's t with df degrees of freedom."""
    df = int(math.floor(df))
    if df < 1:
        return math.inf
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_std(xs):
    """(mean, sample standard deviation, n); std is 0 for one value,
    mean and std None for none."""
    xs = [float(x) for x in xs]
    if not xs:
        return None, None, 0
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0), len(xs)


def _paired(a, b):
    """The per-seed differences a[s] - b[s] over the seeds both dicts
    have, or None when a or b is not a dict or they share fewer than 2."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    common = sorted(set(a) & set(b))
    return [a[s] - b[s] for s in common] if len(common) >= 2 else None


def diff_ci(a, b):
    """95 % confidence interval (lo, hi) of mean(a) - mean(b); None when
    either side has fewer than 2 values.

    a, b: lists of values (Welch's t), or dicts seed -> value: then the
    runs with the same seed (the same partition, initial weights and
    shuffling) are paired and the interval is the paired t's, over the
    seeds both have.  Pairing removes the spread that comes from the seed
    (under label skew mostly the Dirichlet partition, worth several
    points) and leaves the algorithms' difference."""
    d = _paired(a, b)
    if d is not None:
        m, s, n = mean_std(d)
        h = t975(n - 1) * s / math.sqrt(n)
        return m - h, m + h
    if isinstance(a, dict):
        a = list(a.values())
    if isinstance(b, dict):
        b = list(b.values())
    ma, sa, na = mean_std(a)
    mb, sb, nb = mean_std(b)
    if na < 2 or nb < 2:
        return None
    va, vb = sa * sa / na, sb * sb / nb
    d = ma - mb
    se = math.sqrt(va + vb)
    if se == 0:
        return d, d
    df = (va + vb) ** 2 / ((va * va / (na - 1) if va else 0) + (vb * vb / (nb - 1) if vb else 0))
    h = t975(df) * se
    return d - h, d + h


def verdict_beats(a, b):
    """Does a's mean exceed b's?  'agrees' when the whole 95 % interval
    of the difference is above 0, 'does not' when it is below 0 or inside
    +-0.3 points (no difference worth the name), else 'cannot tell'."""
    ci = diff_ci(a, b)
    if ci is None:
        return "cannot tell (needs 2+ seeds)"
    lo, hi = ci
    if lo > 0:
        return "agrees"
    if hi < 0:
        return "does not"
    if -0.003 <= lo and hi <= 0.003:
        return "does not (equal within 0.3 pt)"
    return "cannot tell at K=%d" % _k(a, b)


def _k(a, b):
    d = _paired(a, b)
    return len(d) if d is not None else min(len(a), len(b))


def verdict_within(a, b, margin=0.005):
    """Is a's mean no more than margin below b's?  'agrees' when the
    whole 95 % interval of a - b is above -margin, 'does not' when it is
    all below -margin, else 'cannot tell'."""
    ci = diff_ci(a, b)
    if ci is None:
        return "cannot tell (needs 2+ seeds)"
    lo, hi = ci
    if lo >= -margin:
        return "agrees"
    if hi < -margin:
        return "does not"
    return "cannot tell at K=%d" % _k(a, b)
