"""The checkpoints the lab ships: the teacher is strong, the student clearly worse but not hopeless."""

import json

from labkit.evaluate import evaluate

from .conftest import DATA


def test_shipped_teacher_reaches_98_percent_greedy_on_held_out_problems(shipped):
    result = evaluate(
        shipped["teacher"], shipped["tokenizer"], shipped["task"], n=500, seed=11, temperature=0.0
    )
    assert result.accuracy >= 0.98


def test_shipped_student_is_clearly_worse_than_the_teacher(shipped):
    kw = dict(n=500, seed=11, temperature=1.0)
    student = evaluate(shipped["student"], shipped["tokenizer"], shipped["task"], **kw).accuracy
    teacher = evaluate(shipped["teacher"], shipped["tokenizer"], shipped["task"], **kw).accuracy
    assert 0.15 <= student <= 0.65 and student <= teacher - 0.25


def test_shipped_checkpoints_are_hf_format_safetensors_with_their_recipe():
    for role in ("teacher", "student"):
        folder = DATA / role
        assert {"config.json", "model.safetensors", "tokenizer.json", "labkit.json"} <= {
            p.name for p in folder.iterdir()
        }
        assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pkl")]
        meta = json.loads((folder / "labkit.json").read_text())
        assert meta["role"] == role and "task" in meta and "train" in meta
