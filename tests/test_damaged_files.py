"""A damaged weights or optimizer file gets one line naming the file and the fix, and changes nothing."""

import shutil

import pytest

from labkit.errors import LabkitError
from labkit.models import build_model, load, save
from labkit.tools.cli import main

from .conftest import DATA


def _truncated(data: bytes) -> bytes:  # an interrupted copy: the header promises more than is there
    return data[: len(data) // 2]


def _empty(data: bytes) -> bytes:
    return b""


def _corrupted_header(data: bytes) -> bytes:  # right size, garbage where the JSON header starts
    return data[:8] + b"\x00" * 32 + data[40:]


def _not_safetensors(data: bytes) -> bytes:  # e.g. a Git LFS pointer copied instead of the file
    return b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 439640\n"


DAMAGES = [_truncated, _empty, _corrupted_header, _not_safetensors]


def _damage(path, how) -> None:
    path.write_bytes(how(path.read_bytes()))


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error_line(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("labkit: error:"), err
    return err


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, tokenizer, tiny_sizes):
    folder = tmp_path_factory.mktemp("tiny") / "model"
    save(build_model(tiny_sizes[0], tokenizer, seed=1), tokenizer, folder, extra={"task": {"digits": 2}})
    return folder


@pytest.mark.parametrize("how", DAMAGES, ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_model_file_is_named_with_the_fix_in_python(how, tiny_folder, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    _damage(folder / "model.safetensors", how)
    with pytest.raises(
        LabkitError, match=r"model\.safetensors is damaged or not a safetensors file .*make data"
    ):
        load(folder)


@pytest.mark.parametrize("how", DAMAGES, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("flag", ["eval --model", "train --student", "train --teacher"])
def test_a_damaged_model_folder_gives_one_line_on_the_cli(flag, how, tiny_folder, tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    _damage(folder / "model.safetensors", how)
    command, option = flag.split()
    argv = [command, option, str(folder)]
    if command == "train":
        argv += ["--method", "opd", "--steps", "1", "--out", str(tmp_path / "run")]
    err = _one_error_line(argv, capsys)
    assert f"{folder / 'model.safetensors'} is damaged" in err and "copy it again" in err
    assert not (tmp_path / "run").exists()  # nothing was started


RESUME = ["--method", "sft", "--sft-data", "reference", "--steps", "3", "--batch-size", "4"]
RESUME += ["--eval-n", "8", "--save-every", "2"]


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run with a checkpoint at step 2 (as if stopped there) and its final model."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    assert main(["train", "--student", str(DATA / "student"), *RESUME, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("how", DAMAGES, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors"])
def test_resuming_from_a_damaged_checkpoint_gives_one_line_and_changes_nothing(
    name, how, stopped_run, tmp_path, capsys
):
    out = tmp_path / "run"
    shutil.copytree(stopped_run, out)
    _damage(out / "checkpoint" / name, how)
    before = _snapshot(out)
    err = _one_error_line(
        ["train", "--student", str(DATA / "student"), *RESUME, "--out", str(out), "--resume"], capsys
    )
    assert f"checkpoint/{name} is damaged" in err and "new --out folder" in err
    assert _snapshot(out) == before  # the damaged checkpoint, metrics and final model are as they were
