"""cnnlab.files: atomic writes, and replacing or deleting only folders cnnlab wrote."""

import os
import tempfile

import pytest

from cnnlab.errors import CnnlabError
from cnnlab.files import atomic_write, folder_kind, mark_owned
from cnnlab.sweeps.runner import clear_unfinished


def test_atomic_write_leaves_only_the_file(tmp_path):
    path = atomic_write(tmp_path / "sub" / "a.txt", "text")
    assert path.read_text() == "text"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_atomic_write_errors_name_the_target_not_the_temp_file(tmp_path, monkeypatch):
    (tmp_path / "plots").mkdir()
    with pytest.raises(IsADirectoryError) as raised:
        atomic_write(tmp_path / "plots", b"x")  # replacing a folder with a file
    assert raised.value.filename == str(tmp_path / "plots")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".a.png.xyz.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refused)  # a read-only folder
    with pytest.raises(PermissionError) as raised:
        atomic_write(tmp_path / "a.png", b"x")
    assert raised.value.filename == str(tmp_path / "a.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots"]


def test_folder_kind_reads_the_marker(tmp_path):
    assert folder_kind(tmp_path) is None
    mark_owned(tmp_path / "x", "run")
    assert folder_kind(tmp_path / "x") == "run"
    (tmp_path / "x" / ".cnnlab-folder.json").write_text("[1]")
    assert folder_kind(tmp_path / "x") is None


def test_a_sweep_redoes_only_run_folders_cnnlab_wrote(tmp_path):
    mark_owned(tmp_path / "a=1,seed=0", "run")
    (tmp_path / "a=1,seed=0" / "half.csv").write_text("")
    (tmp_path / "a=2,seed=0").mkdir()  # empty: nothing to lose
    assert clear_unfinished(tmp_path, ["a=1,seed=0", "a=2,seed=0"], lambda p: False) == ["a=1,seed=0", "a=2,seed=0"]
    assert not (tmp_path / "a=1,seed=0").exists()
    (tmp_path / "a=3,seed=0").mkdir()
    (tmp_path / "a=3,seed=0" / "notes.txt").write_text("mine")
    with pytest.raises(CnnlabError, match="cnnlab did not write it"):
        clear_unfinished(tmp_path, ["a=3,seed=0"], lambda p: False)
    assert (tmp_path / "a=3,seed=0" / "notes.txt").read_text() == "mine"


def test_an_empty_current_folder_is_used_in_place(tmp_path, monkeypatch):
    from cnnlab.files import replace_owned_folder

    monkeypatch.chdir(tmp_path)
    with replace_owned_folder(tmp_path, "lesson"):
        (tmp_path / "index.html").write_text("page")
    assert tmp_path.is_dir() and (tmp_path / "index.html").read_text() == "page"
    assert os.getcwd() == str(tmp_path)  # the shell's folder was never moved away (and deleted)
    assert [p.name for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}")] == []
