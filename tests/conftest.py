import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def tokenizer():
    from labkit.tokenizer import build_tokenizer

    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_sizes():
    from labkit.models import ModelSize

    return ModelSize(n_layer=1, d_model=32, n_head=2, d_mlp=64), ModelSize(
        n_layer=2, d_model=48, n_head=2, d_mlp=96
    )


@pytest.fixture()
def tiny_student(tokenizer, tiny_sizes):
    from labkit.models import build_model

    return build_model(tiny_sizes[0], tokenizer, seed=1)


@pytest.fixture()
def tiny_teacher(tokenizer, tiny_sizes):
    from labkit.models import build_model

    return build_model(tiny_sizes[1], tokenizer, seed=2)


@pytest.fixture(scope="session")
def shipped():
    """The shipped teacher and student, loaded the way a user loads them."""
    from labkit.evaluate import task_of
    from labkit.models import load

    teacher, tokenizer = load(DATA / "teacher")
    student, _ = load(DATA / "student")
    return {"teacher": teacher, "student": student, "tokenizer": tokenizer, "task": task_of(DATA / "student")}


@pytest.fixture(scope="session")
def lab(shipped):
    """The shipped pair as notebooks hold it: ``(task, teacher, student, tokenizer)``."""
    return shipped["task"], shipped["teacher"], shipped["student"], shipped["tokenizer"]
