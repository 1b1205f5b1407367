"""An index path that cannot be an index folder, or an index folder in a state no write can fix,
is one line on stderr and exit code 2, like every other bad input: never a traceback.

`ask`, `chat`, `serve` and `eval` open the index before they load the generation model, so a bad
index path fails them at once too."""

import os
import sys

import pytest

from rag.cli import main


def _one_line_error(capsys, argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(err) == 1 and err[0].startswith("rag: "), err
    assert "Traceback" not in captured.err + captured.out
    return err[0]


@pytest.fixture
def articles(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "harbour.txt").write_text(" date 2025-10-02 The harbour of Valmora reopened on "
                                        "Thursday after a storm closed it for nine days.")
    return folder


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an index\n")
    return path


@pytest.mark.parametrize("command", [["list"], ["remove", "harbour"]])
def test_an_index_path_naming_a_file(capsys, a_file, command):
    line = _one_line_error(capsys, [*command, "--index", a_file])
    assert f"{a_file} is a file, not a folder" in line
    assert a_file.read_text() == "not an index\n"


def test_ingest_into_an_index_path_naming_a_file(capsys, a_file, articles):
    line = _one_line_error(capsys, ["ingest", articles, "--index", a_file])
    assert f"{a_file} is a file, not a folder" in line
    assert a_file.read_text() == "not an index\n"


@pytest.mark.parametrize("command", [["ask", "Who attended the talks?"], ["chat"], ["serve"],
                                     ["eval", "--split", "dev", "--out", "{tmp}/report"]])
def test_answering_over_an_index_path_naming_a_file(capsys, monkeypatch, a_file, tmp_path,
                                                    command):
    """`rag ask "..." --index FILE`, the bug a user found: opening the index said IndexMissing,
    so `ask` built the seed index there and met FileExistsError at the lock. The index is opened
    before the model loads, so this fails at once: loading the model here fails the test."""
    def no_model_yet(*args, **kwargs):
        raise AssertionError("the model was loaded before the index was opened")

    monkeypatch.setattr("rag.answer.assistant.make_generator", no_model_yet)
    argv = [part.replace("{tmp}", str(tmp_path)) for part in command]
    line = _one_line_error(capsys, [*argv, "--index", a_file])
    assert f"{a_file} is a file, not a folder" in line
    assert a_file.read_text() == "not an index\n"


@pytest.mark.parametrize("command", [["list"], ["remove", "harbour"]])
def test_an_index_path_under_a_file(capsys, a_file, command):
    """A parent that cannot be created, because an ancestor is a file."""
    line = _one_line_error(capsys, [*command, "--index", a_file / "sub" / "index"])
    assert f"{a_file} is a file" in line


def test_ingest_into_an_index_path_under_a_file(capsys, a_file, articles):
    line = _one_line_error(capsys, ["ingest", articles, "--index", a_file / "sub" / "index"])
    assert f"{a_file} is a file" in line


@pytest.mark.parametrize("command", [["list"], ["remove", "harbour"]])
def test_an_index_path_that_is_a_link_to_nothing(capsys, tmp_path, command):
    link = tmp_path / "index"
    link.symlink_to(tmp_path / "gone")
    line = _one_line_error(capsys, [*command, "--index", link])
    assert "which does not exist" in line


def test_an_index_folder_this_user_may_not_write(capsys, articles):
    """Root may write anywhere on a normal file system, so the folder is one of procfs's."""
    folder = "/proc/self"
    if not os.path.isdir(folder) or os.access(folder, os.W_OK):
        pytest.skip("needs a folder that even root may not write in")
    for argv in (["remove", "harbour", "--index", folder], ["ingest", articles, "--index", folder]):
        line = _one_line_error(capsys, argv)
        assert f"cannot write in the index folder {folder}" in line


def test_a_lock_that_cannot_be_opened(capsys, tmp_path):
    (tmp_path / "index" / "LOCK").mkdir(parents=True)
    line = _one_line_error(capsys, ["remove", "harbour", "--index", tmp_path / "index"])
    assert "cannot write in the index folder" in line


def test_a_current_pointer_that_is_a_folder(capsys, tmp_path, articles):
    """A rebuild cannot replace it, so it is refused before anything is embedded or written."""
    root = tmp_path / "index"
    (root / "CURRENT").mkdir(parents=True)
    assert "is a folder" in _one_line_error(capsys, ["list", "--index", root])
    for extra in ([], ["--rebuild"]):
        line = _one_line_error(capsys, ["ingest", articles, "--index", root, *extra])
        assert "CURRENT is a folder" in line and "remove it" in line
    assert not list(root.glob("*gen-*"))


def test_a_current_pointer_naming_a_file(capsys, tmp_path, articles):
    root = tmp_path / "index"
    root.mkdir()
    (root / "CURRENT").write_text("gen-000001\n")
    (root / "gen-000001").write_text("")
    for argv in (["list", "--index", root], ["remove", "harbour", "--index", root],
                 ["ingest", articles, "--index", root]):
        line = _one_line_error(capsys, argv)
        assert "is a file, not a generation folder" in line and "--rebuild" in line
    assert main(["ingest", str(articles), "--index", str(root), "--rebuild"]) == 0  # as it says
    capsys.readouterr()
    assert main(["list", "--index", str(root)]) == 0
    assert "harbour" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["list"], ["remove", "harbour"]])
def test_a_current_pointer_that_is_not_text(capsys, tmp_path, command):
    root = tmp_path / "index"
    root.mkdir()
    (root / "CURRENT").write_bytes(b"\xff\xfe\x00gen")
    line = _one_line_error(capsys, [*command, "--index", root])
    assert "holds no generation name" in line


@pytest.mark.parametrize("command", [["list"], ["remove", "harbour"]])
def test_the_milvus_backend_under_an_index_path_naming_a_file(capsys, monkeypatch, a_file,
                                                              command):
    pytest.importorskip("pymilvus")
    monkeypatch.setenv("RAG_INDEX_BACKEND", "milvus")
    monkeypatch.delenv("RAG_MILVUS_URI", raising=False)
    line = _one_line_error(capsys, [*command, "--index", a_file])
    assert f"{a_file} is a file, not a folder" in line


@pytest.mark.skipif(sys.platform != "linux", reason="procfs")
def test_a_missing_index_under_a_folder_that_cannot_hold_one(capsys):
    """Reading says there is no index; writing says why it cannot make one."""
    line = _one_line_error(capsys, ["remove", "harbour", "--index", "/proc/rag-test/index"])
    assert "cannot create the index folder /proc/rag-test/index" in line
