"""Weekly listening dose against the WHO-ITU (H.870) equal-energy allowance.

Worked examples of the equal-energy rule, adults (80 dBA for 40 h = 100%):

==========  ===============  ==========================================
level dBA   hours for 100%   how
==========  ===============  ==========================================
80          40               the reference
83          20               +3 dB halves the time
86          10               +6 dB: a quarter
89          5                +9 dB: an eighth
90          4                +10 dB: a tenth (exactly, by equal energy)
77          80               -3 dB doubles it
==========  ===============  ==========================================

"+3 dB halves" is the rounded form of 10^0.3 = 1.995, so each 3-dB step agrees with
exact equal energy to within 0.25% (three steps: 0.7%); the 10-dB step is exact.
"""

from __future__ import annotations

import math

import pytest

from sonora.care.dose import (
    ALLOWANCE_PA2H,
    LEVEL_CHOICES,
    NEAR_PERCENT,
    allowance_hours,
    check_level_dba,
    dose_percent,
    exposure_pa2h,
    mixer_offset_db,
    weekly_dose,
)
from sonora.care.errors import CareError

H = 3600.0


@pytest.mark.parametrize(
    ("level_dba", "hours"),
    [
        (80.0, 40.0),
        (83.0, 20.0),
        (86.0, 10.0),
        (89.0, 5.0),
        (90.0, 4.0),
        (77.0, 80.0),
        (70.0, 400.0),
    ],
)
def test_allowance_follows_the_equal_energy_rule(level_dba: float, hours: float) -> None:
    # exact equal energy, and the worked example to within 1% (three 3-dB steps)
    assert allowance_hours(level_dba) == pytest.approx(40.0 * 10 ** ((80.0 - level_dba) / 10))
    assert allowance_hours(level_dba) == pytest.approx(hours, rel=0.01)
    assert dose_percent([(level_dba, hours * H)]) == pytest.approx(100.0, rel=0.01)


def test_the_ten_decibel_step_is_exact() -> None:
    assert allowance_hours(90.0) == pytest.approx(4.0, rel=1e-12)
    assert allowance_hours(70.0) == pytest.approx(400.0, rel=1e-12)
    assert dose_percent([(90.0, 4 * H)]) == pytest.approx(100.0, rel=1e-12)


def test_three_decibels_nearly_halves_the_time() -> None:
    for level in (60.0, 75.0, 80.0, 95.0):
        ratio = allowance_hours(level) / allowance_hours(level + 3.0)
        assert ratio == pytest.approx(2.0, rel=0.003)
        assert ratio == pytest.approx(10**0.3, rel=1e-12)


def test_the_adult_allowance_is_1_6_pascal_squared_hours() -> None:
    assert ALLOWANCE_PA2H == pytest.approx(1.6, rel=1e-3)
    assert exposure_pa2h(80.0, 40 * H) == pytest.approx(1.6, rel=1e-3)
    assert exposure_pa2h(94.0, H) == pytest.approx(1.0, rel=0.01)  # 94 dB SPL is 1 Pa


def test_doses_add_up_across_sessions() -> None:
    # half the allowance at 80 dBA (20 h) + half at 86 dBA (5 h) = 100%
    assert dose_percent([(80.0, 20 * H), (86.0, 5 * H)]) == pytest.approx(100.0, rel=0.005)
    # 1 h at 80 dBA = 2.5% of the week
    assert dose_percent([(80.0, H)]) == pytest.approx(2.5, rel=1e-9)
    assert dose_percent([]) == 0.0


def test_weekly_dose_status_ok_near_over() -> None:
    ok = weekly_dose([(10 * H, 0.0)], level_dba=70.0)  # 10 h of 400 h = 2.5%
    assert ok.status == "ok" and ok.dose_percent == pytest.approx(2.5, rel=1e-6)
    assert ok.remaining_h == pytest.approx(390.0, rel=1e-6)
    near = weekly_dose([(17 * H, 0.0)], level_dba=83.0)  # 17 of 20 h = 85%
    assert near.status == "near" and near.dose_percent == pytest.approx(85.0, rel=0.005)
    assert NEAR_PERCENT == 80.0
    at = weekly_dose([(10 * H, 0.0)], level_dba=86.0)  # exactly one allowance
    assert at.status == "over" and at.remaining_h == 0.0
    over = weekly_dose([(3 * H, 0.0), (3 * H, 0.0)], level_dba=90.0)  # 6 of 4 h = 150%
    assert over.status == "over" and over.dose_percent == pytest.approx(150.0, rel=1e-9)
    assert over.listened_h == pytest.approx(6.0)


def test_weekly_dose_before_calibration_reports_only_the_time() -> None:
    est = weekly_dose([(2 * H, 0.0)], level_dba=None)
    assert est.status == "uncalibrated"
    assert est.dose_percent is None and est.listened_s == 2 * H
    assert est.to_dict()["listened_h"] == 2.0


def test_the_mixer_changes_the_level() -> None:
    assert mixer_offset_db(None) == 0.0
    assert mixer_offset_db([1.0, 1.0]) == pytest.approx(0.0)
    assert mixer_offset_db([2.0, 2.0, 2.0]) == pytest.approx(20 * math.log10(2.0))
    assert mixer_offset_db([0.0, 0.0]) == -math.inf
    # all layers doubled = +6 dB: 10 h at 80 dBA counts like 10 h at 86 dBA
    doubled = weekly_dose([(10 * H, mixer_offset_db([2.0, 2.0]))], level_dba=80.0)
    assert doubled.dose_percent == pytest.approx(dose_percent([(86.02, 10 * H)]), rel=1e-3)
    silent = weekly_dose([(10 * H, -math.inf)], level_dba=85.0)
    assert silent.dose_percent == 0.0 and silent.status == "ok"


def test_calibration_choices_span_soft_speech_to_shouting() -> None:
    levels = [c.level_dba for c in LEVEL_CHOICES]
    assert levels == sorted(levels) and levels[0] == 60.0 and levels[-1] == 85.0
    for c in LEVEL_CHOICES:
        assert c.label and c.hint and check_level_dba(c.level_dba) == c.level_dba


@pytest.mark.parametrize("bad", [39.9, 110.5, float("nan"), float("inf"), "80", True, None])
def test_bad_levels_name_the_field_and_range(bad: object) -> None:
    with pytest.raises(CareError) as e:
        check_level_dba(bad)
    assert e.value.field == "level_dba"
    assert "40 to 110" in str(e.value)


def test_bad_sessions_name_the_field() -> None:
    with pytest.raises(CareError) as e:
        dose_percent([(80.0, -1.0)])
    assert e.value.field == "exposures[0].duration_s" and ">= 0" in str(e.value)
    with pytest.raises(CareError) as e:
        dose_percent([(80.0, H), (200.0, H)])
    assert e.value.field == "exposures[1].level_dba"
    with pytest.raises(CareError) as e:
        weekly_dose([(H, float("nan"))], level_dba=80.0)
    assert e.value.field == "sessions[0].offset_db"
    with pytest.raises(CareError) as e:
        weekly_dose([(H,)], level_dba=80.0)  # type: ignore[list-item]
    assert e.value.field == "sessions[0]"
    with pytest.raises(CareError) as e:
        weekly_dose([], level_dba=80.0, near_percent=0)
    assert e.value.field == "near_percent" and "(0, 100]" in str(e.value)
    with pytest.raises(CareError) as e:
        mixer_offset_db([1.0, -0.5])
    assert e.value.field == "gains[1]"
