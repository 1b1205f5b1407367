"""The CLI's contract for bad input: one line on stderr, exit code 2, no traceback."""

import re
import subprocess
import sys

import pytest

from rag.cli import main
from tests.conftest import SEEDS


def _one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("rag: error: "), err
    return err[0]


def test_missing_path(capsys, tmp_path):
    line = _one_line_error(capsys, ["ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "i")])
    assert "no such file or folder" in line


def test_empty_folder(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    line = _one_line_error(capsys, ["ingest", str(tmp_path / "empty"), "--index", str(tmp_path / "i")])
    assert "no .txt, .md, .html, .pdf or .docx files" in line


def test_only_unreadable_files(capsys, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "empty.txt").write_text("")
    line = _one_line_error(capsys, ["ingest", str(tmp_path / "docs"), "--index", str(tmp_path / "i")])
    assert "no readable article" in line and "empty file" in line
    assert not (tmp_path / "i" / "CURRENT").exists() and not list((tmp_path / "i").glob("*gen-*"))


def test_missing_index_suggests_ingest(capsys, tmp_path):
    line = _one_line_error(capsys, ["list", "--index", str(tmp_path / "none")])
    assert "rag ingest" in line


def test_not_a_gguf_model(capsys, tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_text("hello")
    line = _one_line_error(capsys, ["ask", "Who?", "--model", str(fake), "--index", str(tmp_path)])
    assert "is not a GGUF model file" in line


def test_bad_setting_from_the_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_TOP_K", "many")
    line = _one_line_error(capsys, ["list", "--index", str(tmp_path)])
    assert "top_k" in line


@pytest.mark.model
def test_an_article_filter_names_indexed_articles(capsys, seed_settings, seed_index):
    line = _one_line_error(capsys, ["ask", "Who attended?", "--article", "nope",
                                    "--index", str(seed_settings.index)])
    assert "not in the index: nope (see: rag list)" in line


@pytest.mark.model
def test_empty_question_in_a_real_process(tmp_path):
    """A real `rag ask` process: no traceback reaches the user."""
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "  ", "--index", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "rag: error: the question is empty"
    assert "Traceback" not in proc.stderr


@pytest.mark.model
def test_ask_on_a_fresh_machine_builds_the_seed_index_first(tmp_path):
    """A real `rag ask` process with no index yet: it builds one from seeds/, then answers."""
    index = tmp_path / "index"
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "Who is the editor of the "
                           "Vatfor project?", "--index", str(index)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"No index in {index}: building it from" in proc.stderr
    assert "5 added" in proc.stderr
    assert "Poletaev" in proc.stdout
    assert (index / "CURRENT").is_file()


def test_ingest_then_list(capsys, tmp_path):
    assert main(["ingest", str(SEEDS), "--index", str(tmp_path / "i")]) == 0
    out = capsys.readouterr().out
    assert "5 added" in out and "chunks/s" in out
    assert main(["list", "--index", str(tmp_path / "i")]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 5 and listing[4].startswith("004_11cf7204ea443644  2025-09-04")


def test_ingest_names_articles_that_address_the_assistant(capsys, tmp_path):
    from tests.answer.injections import BATTERY

    folder = tmp_path / "planted"
    folder.mkdir()
    (folder / "ferry.txt").write_text(f"Ferry report\n\n{BATTERY[1].article}", encoding="utf-8")
    (folder / "plain.txt").write_text(f"Plain report\n\n{BATTERY[1].before}", encoding="utf-8")
    assert main(["ingest", str(folder), "--index", str(tmp_path / "i")]) == 0
    err = capsys.readouterr().err
    assert ("rag: warning: ferry: 1 sentence addressed to AI assistants (kept as text; never "
            "shown to the model or quoted)") in err
    assert "plain:" not in err


@pytest.mark.model
def test_chat_rewrites_a_follow_up(seed_settings, seed_index):
    """A real `rag chat` session over the seed index, fed two turns on standard input."""
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "chat", "--index", str(seed_settings.index)],
                          input="Which US special envoy attended the Paris talks?\n"
                                "How long did he stay before leaving the Elysee Palace?\n\n",
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Rewriting the follow-up" in proc.stderr
    assert "(searched for:" in proc.stdout and "45 minutes" in proc.stdout
    assert proc.stdout.index("Reading:") < proc.stdout.index("rag> ")  # passages before the answer


def test_a_second_reading_is_announced_and_only_its_answer_counts_as_streamed(capsys):
    """The pipeline's side runs on the real model in test_readings.py; here only the CLI's echo."""
    import argparse

    from rag.answer.events import Final, Status, Token
    from rag.cli.answer_commands import _stream_answer
    from tests.ui.test_render import _record, _ScriptedAssistant

    record = _record()
    events = [Status("generating", "Waiting for the model…"), Token("The sources do not say."),
              Status("reading_more", "Reading the other passages…"), Token("The ferry leaves"),
              Token(" at 7:15 [1]."), Final(record)]
    args = argparse.Namespace(top_k=None, since=None, until=None, article=None)
    got, shown = _stream_answer(_ScriptedAssistant(events), "When?", [], args, echo=True)
    out, err = capsys.readouterr()
    assert got is record and shown == "The ferry leaves at 7:15 [1]."
    assert "(Reading the other passages…)" in err
    assert out.endswith("The ferry leaves at 7:15 [1].")


@pytest.mark.model
def test_ingest_warm_reads_every_passage_once(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_PASSAGE_CACHE", "1")  # chained, so one place per chunk
    index = str(tmp_path / "index")
    article = str(SEEDS / "001_b72cc718d4f6e6c6.txt")
    assert main(["ingest", article, "--index", index, "--warm"]) == 0
    first = capsys.readouterr().out
    chunks = re.search(r"in (\d+) chunks", first).group(1)
    assert f"passage cache: {chunks} passages, {chunks} read now" in first
    assert main(["ingest", article, "--index", index, "--warm"]) == 0
    assert f"passage cache: {chunks} passages, 0 read now" in capsys.readouterr().out
