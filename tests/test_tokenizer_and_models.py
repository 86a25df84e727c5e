import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from labkit.errors import LabkitError
from labkit.models import (
    STUDENT_SIZE,
    TEACHER_SIZE,
    build_model,
    check_compatible,
    count_parameters,
    load,
    save,
)
from labkit.tokenizer import build_tokenizer


def test_tokenizer_is_character_level_with_bos(tokenizer):
    ids = tokenizer("357+489=")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and len(ids) == 9
    assert tokenizer.decode(ids, skip_special_tokens=True) == "357+489="
    assert tokenizer.decode(tokenizer("7+9, 1!2;", add_special_tokens=False)["input_ids"]) == "7+9, 1!2;"
    assert {tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id} == {0, 1, 2}


def test_tokenizer_round_trips_through_auto_tokenizer(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again.get_vocab() == tokenizer.get_vocab()
    assert again("12+34=")["input_ids"] == tokenizer("12+34=")["input_ids"]
    assert again.eos_token == "<eos>" and again.pad_token == "<pad>"


def test_model_sizes_match_the_lab_design(tokenizer):
    teacher = count_parameters(build_model(TEACHER_SIZE, tokenizer))
    student = count_parameters(build_model(STUDENT_SIZE, tokenizer))
    assert 0.8e6 < teacher < 1.3e6
    assert 80e3 < student < 130e3


def test_saved_model_loads_through_from_pretrained_with_identical_outputs(tokenizer, tiny_student, tmp_path):
    save(tiny_student, tokenizer, tmp_path / "m", extra={"task": {"digits": 2}})
    assert (tmp_path / "m" / "model.safetensors").exists()
    assert not list((tmp_path / "m").glob("*.bin")) and not list((tmp_path / "m").glob("*.pt"))
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    x = torch.tensor([[1, 5, 6, 14, 7, 8, 15]])
    tiny_student.eval()
    assert torch.equal(tiny_student(x).logits, reloaded(x).logits)
    assert json.loads((tmp_path / "m" / "labkit.json").read_text())["task"] == {"digits": 2}


def test_save_replaces_an_existing_checkpoint_and_leaves_no_temporary_folder(
    tokenizer, tiny_student, tiny_teacher, tmp_path
):
    save(tiny_student, tokenizer, tmp_path / "m")
    save(tiny_teacher, tokenizer, tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    model, _ = load(tmp_path / "m")
    assert model.config.num_hidden_layers == tiny_teacher.config.num_hidden_layers


def test_loading_a_missing_folder_says_so(tmp_path):
    with pytest.raises(LabkitError, match="does not exist"):
        load(tmp_path / "nope")


def test_loading_a_folder_without_a_model_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(LabkitError, match="not a model folder"):
        load(tmp_path)


def test_mismatched_vocabularies_are_named(tokenizer):
    other = build_tokenizer(alphabet="0123456789+=;,!")
    with pytest.raises(LabkitError, match=r"student vocabulary has 20 tokens, teacher vocabulary has 19"):
        check_compatible(tokenizer, other)
    check_compatible(tokenizer, build_tokenizer())  # the same vocabulary passes


def test_saved_folders_get_the_usual_permissions(tokenizer, tiny_student, tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        save(tiny_student, tokenizer, tmp_path / "m")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == 0o755
