"""Effects, intervals and verdicts of claims against hand-computed cases.

The references are worked out by hand from the Student-t table (two-sided 95 %: t = 4.303 at
2 degrees of freedom, 2.776 at 4), not from scipy or the code under test.
"""

import dataclasses
import json
import math

import pytest

from selfsup.experiments.claims import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    SINGLE,
    Claim,
    across_seeds,
    all_of,
    claims_table,
    compare,
    decide,
    exact,
    measure,
    verdict,
)
from selfsup.experiments.stats import PAIRED_T, WELCH_T, difference_interval, mean_interval

T2, T4 = 4.303, 2.776  # t_{0.975} at 2 and 4 degrees of freedom, from the table


def test_paired_clear_win_in_points_with_and_beyond_its_margin():
    a = {0: 0.900, 1: 0.911, 2: 0.919}
    b = {0: 0.880, 1: 0.890, 2: 0.900}
    # differences 2.0, 2.1, 1.9 points: mean 2.0, sd 0.1, half-width 4.303 * 0.1 / sqrt(3)
    half = T2 * 0.1 / math.sqrt(3)
    c = compare("A beats B", a, b, above=0.5, scale=100, unit="pts", names=("a", "b"))
    assert c.verdict == HOLDS and c.holds is True and c.seeds == 3
    assert c.effect == pytest.approx(2.0, abs=1e-9)
    assert c.interval == pytest.approx((2.0 - half, 2.0 + half), abs=2e-3)
    assert c.interval_method == PAIRED_T
    assert c.per_seed == {"a": a, "b": b} and c.ours == pytest.approx({"a": 0.91, "b": 0.89})
    # the interval [1.75, 2.25] lies below a margin of 2.5 points: A is not ahead by that much
    assert compare("A beats B by 2.5", a, b, above=2.5, scale=100).verdict == FAILS
    text = verdict(c)
    assert text.startswith("holds (+2 pts, 95 % CI [+1.75, +2.25], 3 seeds)"), text


def test_paired_clear_loss_and_straddle():
    a = {0: 0.88, 1: 0.89, 2: 0.90}
    b = {0: 0.90, 1: 0.911, 2: 0.919}
    assert compare("A beats B", a, b).verdict == FAILS
    # non-inferiority within 3 points holds even though A is behind
    assert compare("A matches B", a, b, above=-3, scale=100).verdict == HOLDS
    # differences 2, 3, 1 points: mean 2, sd 1, half 4.303 / sqrt(3) = 2.48 > 2: straddles 0
    straddle = compare("A beats B", {0: 0.92, 1: 0.94, 2: 0.91}, {0: 0.90, 1: 0.91, 2: 0.90})
    half = T2 * 0.01 / math.sqrt(3)
    assert straddle.verdict == INCONCLUSIVE and straddle.holds is None
    assert straddle.interval == pytest.approx((0.02 - half, 0.02 + half), abs=2e-5)


def test_paired_against_unpaired_on_the_same_numbers():
    a, b = [0.90, 0.92, 0.94], [0.89, 0.91, 0.93]
    # paired: the differences are all 0.01, so the interval has no width
    paired = compare("A beats B", dict(enumerate(a)), dict(enumerate(b)))
    assert paired.verdict == HOLDS
    assert paired.interval == pytest.approx((0.01, 0.01), abs=1e-12)
    # unpaired (no shared seed): Welch, variances 4e-4 each, se = sqrt(2 * 4e-4 / 3),
    # df = (2q)^2 / (2 q^2 / 2) = 4
    unpaired = compare("A beats B", dict(enumerate(a)), {k + 3: v for k, v in enumerate(b)})
    half = T4 * math.sqrt(2 * 4e-4 / 3)
    assert unpaired.interval_method == WELCH_T and unpaired.verdict == INCONCLUSIVE
    assert unpaired.interval == pytest.approx((0.01 - half, 0.01 + half), abs=2e-5)
    estimate = difference_interval(dict(enumerate(a)), {9: 0.89, 10: 0.91, 11: 0.93})
    assert estimate.n == 3 and estimate.value == pytest.approx(0.01)


def test_single_seed_is_never_settled():
    c = compare("A beats B", {0: 0.9}, {0: 0.8}, scale=100, unit="pts")
    assert c.verdict == SINGLE and c.holds is None and c.interval is None and c.seeds == 1
    assert c.leaning == HOLDS and c.effect == pytest.approx(10.0)
    assert verdict(c) == "single seed (+10 pts, no interval; leans holds)"
    assert measure("x < 1", {0: 2.0}, below=1.0).leaning == FAILS


def test_one_number_in_a_range_and_missing_values():
    # slopes 0.98, 1.00, 1.02: mean 1, sd 0.02, half 4.303 * 0.02 / sqrt(3) = 0.0497
    c = measure("slope ~ 1", {0: 0.98, 1: 1.0, 2: 1.02}, above=0.8, below=1.2)
    assert c.verdict == HOLDS
    assert c.interval == pytest.approx((1 - T2 * 0.02 / 3**0.5, 1 + T2 * 0.02 / 3**0.5), abs=1e-4)
    assert measure("slope ~ 1", {0: 1.5, 1: 1.6, 2: 1.55}, above=0.8, below=1.2).verdict == FAILS
    assert measure("slope ~ 1", {0: 1.0, 1: 1.4, 2: 1.2}, above=0.8, below=1.2).verdict == (
        INCONCLUSIVE
    )
    # a diverged seed (nan) is left out; nothing at all left is inconclusive
    assert mean_interval({0: 1.0, 1: math.nan, 2: 3.0}).n == 2
    assert measure("x", {0: None}, above=0).verdict == INCONCLUSIVE
    with pytest.raises(ValueError, match="bound"):
        decide(1.0, (0.0, 2.0), 3)


def test_deterministic_claims_have_no_interval():
    c = exact("closed form = ODE", 2e-15, below=1e-10, seeds=3)
    assert c.verdict == HOLDS and c.deterministic and c.interval is None
    assert exact("closed form = ODE", 1e-3, below=1e-10).verdict == FAILS
    assert verdict(c) == "holds (+2e-15, deterministic)"
    record = json.loads(json.dumps(c.to_dict()))
    assert record["deterministic"] is True and record["interval"] is None
    assert Claim.from_dict(record) == c


def test_all_of_takes_the_worst_part():
    good = measure("m1", {0: 0.1, 1: 0.11, 2: 0.09}, below=0.5)
    near = measure("m2", {0: 0.40, 1: 0.41, 2: 0.39}, below=0.5)
    bad = measure("m3", {0: 0.9, 1: 0.91, 2: 0.89}, below=0.5)
    both = all_of("every method", {"m1": good, "m2": near})
    assert both.verdict == HOLDS and both.effect == pytest.approx(0.40)  # nearest the bound
    assert [p["name"] for p in both.parts] == ["m2", "m1"]
    failed = all_of("every method", {"m1": good, "m3": bad})
    assert failed.verdict == FAILS and failed.effect == pytest.approx(0.9)
    assert all_of("nothing measured", {}).verdict == INCONCLUSIVE
    single = measure("m4", {0: 0.1}, below=0.5)
    assert all_of("every", {"m1": good, "m4": single}).verdict == SINGLE


def test_across_seeds_decides_on_the_per_seed_effects():
    per_seed = {
        s: [
            measure("x > 0", {s: v}, above=0.0),
            exact("identity", e, below=1e-10),
            all_of(
                "both", {"p": measure("p", {s: v}, above=0), "q": measure("q", {s: -v}, below=0)}
            ),
        ]
        for s, v, e in ((0, 1.0, 1e-16), (1, 1.2, 3e-15), (2, 0.8, 2e-16))
    }
    x, identity, both = across_seeds(per_seed)
    # 1.0, 1.2, 0.8: mean 1, sd 0.2, half 4.303 * 0.2 / sqrt(3) = 0.497
    assert x.verdict == HOLDS and x.seeds == 3
    assert x.interval == pytest.approx((1 - 0.4969, 1 + 0.4969), abs=1e-3)
    assert identity.deterministic and identity.effect == 3e-15 and identity.verdict == HOLDS
    assert both.verdict == HOLDS and {p["name"] for p in both.parts} == {"p", "q"}
    assert all(p["seeds"] == 3 for p in both.parts)
    # one seed stays a single-seed verdict
    assert across_seeds({0: per_seed[0]})[0].verdict == SINGLE
    with pytest.raises(ValueError, match="disagree"):
        across_seeds({0: per_seed[0][:1], 1: [dataclasses.replace(x, claim="other")]})


def test_bare_claims_and_the_table():
    a = Claim("c", ours=0.1234567, holds=True, tolerance=0.5, evidence="e0")
    assert a.verdict == HOLDS and verdict(a) == "holds"
    assert Claim("c", holds=False).verdict == FAILS and Claim("c").verdict == INCONCLUSIVE
    with pytest.raises(ValueError, match="verdict"):
        Claim("c", verdict="maybe")
    c = compare("x | y", {0: 0.9, 1: 0.91, 2: 0.92}, {0: 0.8, 1: 0.8, 2: 0.81}, scale=100)
    table = claims_table([c, a])
    assert table[2].startswith("| 1 | x \\| y | **holds (+10.7, 95 % CI [")
    assert "| > +0 |" in table[2] and any(PAIRED_T in line for line in table)
