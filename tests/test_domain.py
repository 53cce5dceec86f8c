"""Domain: the ranges a law was fitted on, and how far a plan extrapolates beyond them.

Published ranges: Hoffmann et al. 2022 (the Chinchilla runs, as digitised by Besiroglu et
al. 2024); Kaplan et al. 2020, sec. 1 (768 to 1.5e9 non-embedding parameters, 22e6 to
23e9 tokens); Muennighoff et al. 2023 (up to 9e9 parameters and 900e9 tokens).
"""

import json

import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax.domain import FAR_OUTSIDE, PRESET_DOMAINS, Domain


def test_every_preset_law_has_its_domain():
    assert set(PRESET_DOMAINS) == set(sl.PRESETS)


@pytest.mark.parametrize("name, drop", [("hoffmann-2022", 0), ("epoch-2024", 5)])
def test_chinchilla_presets_are_the_ranges_of_the_chinchilla_runs(name, drop):
    assert PRESET_DOMAINS[name] == Domain.from_runs(sl.datasets.chinchilla(drop_highest=drop))


def test_published_ranges():
    kaplan, muennighoff = PRESET_DOMAINS["kaplan-2020"], PRESET_DOMAINS["muennighoff-2023"]
    assert kaplan.N == (768.0, 1.5e9) and kaplan.D == (22e6, 23e9)
    assert muennighoff.N[1] == 9e9 and muennighoff.D[1] == 9e11
    low, high = PRESET_DOMAINS["epoch-2024"].N
    assert 5e7 < low < 7e7 and 1.6e10 < high < 1.7e10  # ~70M to over 16B (Hoffmann et al., sec. 3)


def test_extrapolation_factors():
    domain = Domain(N=(1e8, 1e10), D=(1e9, 1e11), flops=(1e18, 1e21), tokens_per_param=(1.0, 100.0))
    factors = domain.extrapolation(np.array([1e9, 1e12, 1e6, np.nan]), np.array([2e10, 2e13, 1e9, 1e9]))
    np.testing.assert_allclose(factors["N"], [1.0, 100.0, 1e-2, np.nan])
    np.testing.assert_allclose(factors["D"], [1.0, 200.0, 1.0, 1.0])
    np.testing.assert_allclose(factors["flops"], [1.0, 6 * 1e12 * 2e13 / 1e21, 6 * 1e6 * 1e9 / 1e18, np.nan])
    np.testing.assert_allclose(factors["tokens_per_param"], [1.0, 1.0, 10.0, np.nan])
    assert domain.describe(1e9, 2e10) == []
    assert domain.is_far([1e9, 1e12, 1e6, 1e8], [2e10, 2e13, 1e9, 1e12]).tolist() == [False, False, False, True]


def test_the_issue_plan_is_described_and_far():
    # plan --flops 1e22 --inference-tokens 1e16 with epoch-2024: a 497K-parameter model
    # at 40 million tokens per parameter.
    plan = sl.compute_optimal(sl.EPOCH_2024, 1e22, inference_tokens=1e16)
    domain = PRESET_DOMAINS["epoch-2024"]
    phrases = domain.describe(plan.N, plan.D)
    assert phrases[0] == "N = 4.97e5 is 115x below the fitted range of N (5.73e7-1.62e10)"
    assert phrases[-1] == "D/N = 4.01e7 is 1.18e5x above the fitted range of D/N (0.456-341)"
    assert bool(domain.is_far(plan.N, plan.D))


def test_ordinary_extrapolation_is_not_far():
    # 1e25 FLOPs with epoch-2024: N and D ~20x beyond the runs, compute 772x: the library's use.
    domain = PRESET_DOMAINS["epoch-2024"]
    plan = sl.compute_optimal(sl.EPOCH_2024, np.array([1e19, 1e25]))
    assert domain.describe(plan.N[0], plan.D[0]) == []
    assert "C = 1e25 is 772x above the fitted range of C (1.4e18-1.3e22)" in domain.describe(plan.N[1], plan.D[1])
    assert not domain.is_far(plan.N, plan.D).any()
    assert FAR_OUTSIDE == {"N": 1e3, "D": 1e3, "flops": 1e6, "tokens_per_param": 10.0}


def test_round_trip_through_json():
    domain = PRESET_DOMAINS["hoffmann-2022"]
    assert Domain.from_dict(json.loads(json.dumps(domain.to_dict()))) == domain
    with pytest.raises(ValueError, match="tokens_per_param"):
        Domain.from_dict({name: [1.0, 2.0] for name in ("N", "D", "flops")})
