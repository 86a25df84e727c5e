"""The pitfalls clinic reproduces each bug: planted in the lab's loop, each leaves the symptom its card names,
against the healthy run from the same student on the same prompts."""

import pytest

from labkit.studies.pitfalls import PITFALLS, check_diagnosis, clinic, padded_head

pytestmark = pytest.mark.slow  # trains eight short runs


@pytest.fixture(scope="module")
def rows(lab):
    return {r["pitfall"]: r for r in clinic(lab, steps=8, n_eval=16)}


def test_the_healthy_run_learns_on_policy(rows):
    healthy = rows["healthy"]
    assert healthy["teacher_kl"][1] < healthy["teacher_kl"][0]
    assert healthy["first_abs_log_ratio"] < 1e-3  # before any update the ratio is 1
    assert healthy["teacher_grad"] == 0 and healthy["weight_change"] > 0


def test_a_swapped_kl_sign_drives_the_student_away_from_the_teacher(rows):
    assert rows["kl-sign"]["teacher_kl"][1] > rows["kl-sign"]["teacher_kl"][0]
    assert rows["kl-sign"]["teacher_kl"][1] > rows["healthy"]["teacher_kl"][1]


def test_an_unstopped_teacher_gets_a_gradient_and_a_backward_pass(rows):
    assert rows["teacher-grad"]["teacher_grad"] > 0
    assert rows["teacher-grad"]["seconds_per_step"] > rows["healthy"]["seconds_per_step"]


def test_a_stopped_student_never_moves(rows):
    assert rows["student-stopped"]["weight_change"] == 0
    assert rows["student-stopped"]["teacher_kl"][1] == pytest.approx(rows["student-stopped"]["teacher_kl"][0],
                                                                      rel=0.25)  # fmt: skip


def test_a_prompt_mismatch_makes_the_teacher_grade_noise(rows):
    assert rows["prompt-mismatch"]["first_advantage"] < rows["healthy"]["first_advantage"] - 0.2


def test_a_student_copy_as_teacher_gives_zero_advantages(rows):
    assert abs(rows["zero-advantage"]["first_advantage"]) < 1e-4
    assert abs(rows["healthy"]["first_advantage"]) > 0.05


def test_shifted_labels_score_other_tokens_than_the_sampler(rows):
    shifted, healthy = rows["label-shift"], rows["healthy"]
    assert shifted["first_abs_log_ratio"] > 1  # the loss's log-probs are not the sampler's
    assert shifted["first_advantage"] < 5 * healthy["first_advantage"]  # and the teacher's are far off too
    assert shifted["teacher_kl"][1] > healthy["teacher_kl"][1]


def test_a_temperature_mismatch_shows_in_the_first_ratio(rows):
    assert rows["temperature"]["first_abs_log_ratio"] > 0.05


def test_every_pitfall_ran(rows):
    assert set(rows) == {"healthy", *PITFALLS}


def test_a_padded_output_layer_leaks_mass_unless_truncated(lab):
    padded = padded_head(lab, extra_rows=64)
    assert padded["rows"][1] == padded["rows"][0] + 64
    assert padded["phantom_mass"] > 0 and padded["shift_untruncated"] < 0  # mass leaks to phantom rows
    assert padded["shift_truncated"] == pytest.approx(0.0, abs=1e-6)
    assert padded["exact_kl_error"] is not None  # two row counts: the exact KL cannot even be formed


def test_the_diagnosis_check_accepts_only_the_planted_bug(capsys):
    assert check_diagnosis("label-shift", "label-shift", verbose=False)
    assert not check_diagnosis("label-shift", "kl-sign")
    assert "not kl-sign" in capsys.readouterr().out
    assert not check_diagnosis("label-shift", "off by one")
    assert "not a pitfall" in capsys.readouterr().out
