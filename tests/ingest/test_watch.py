"""`rag watch`: a real watchdog observer on a folder in tmp_path, writing a real index.

Nothing waits a fixed long time: each test polls the index until a deadline. The debounce is
short (0.3 s), and files written in pieces pause well under it between pieces, so a watcher that
read a file before it settled would index its first part and be caught by an `updated` report.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rag.cli import main
from rag.errors import BadInput, RagError
from rag.ingest.indexer import IngestReport
from rag.ingest.sources import load_article
from rag.ingest.watch import Watcher
from rag.settings import PROJECT_ROOT, Settings
from rag.store.factory import open_index, read_listing
from rag.store.files import write_lock

DEBOUNCE = 0.3
DEADLINE = 30.0  # seconds; a loaded 2-core machine embeds slowly, a working watcher takes ~1 s


def _article(token: str, sentences: int = 4) -> str:
    body = " ".join(f"Sentence {n} of the {token} report says the {token} council met again."
                    for n in range(sentences))
    return f"date 2025-03-01\nNews about {token}\n\n{body}\n"


def _until(what: Callable[[], object], why: str, timeout: float = DEADLINE):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if result := what():
            return result
        time.sleep(0.05)
    pytest.fail(f"not within {timeout:.0f} s: {why}")


def _stored(settings: Settings, doc_id: str) -> str | None:
    """The article's text as the index holds it, or None."""
    try:
        index = open_index(settings)
    except RagError:  # no index yet
        return None
    try:
        article = index.article(doc_id)
    finally:
        index.close()
    return article.text if article else None


def _doc_ids(settings: Settings) -> set[str]:
    return set(read_listing(settings).articles)


@dataclass
class Watching:
    watcher: Watcher
    settings: Settings
    folder: Path
    first: IngestReport | None
    changes: list[IngestReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def reports_naming(self, doc_id: str) -> list[str]:
        """Which kinds of change were reported for `doc_id`, in order."""
        return [kind for report in self.changes for kind in ("added", "updated", "removed")
                if doc_id in getattr(report, kind)]


@pytest.fixture
def watching(tmp_path, embedder) -> Iterator[Watching]:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text(_article("aardvark"))
    settings = Settings(index=tmp_path / "index", watch_debounce=DEBOUNCE)
    changes: list[IngestReport] = []
    warnings: list[str] = []
    watcher = Watcher(folder, settings, embedder, on_change=changes.append,
                      on_warning=warnings.append)
    first = watcher.start()
    try:
        yield Watching(watcher, settings, folder, first, changes, warnings)
    finally:
        watcher.stop()


def _settled(watching: Watching) -> None:
    """Wait until the watcher has written what it saw and reported it."""
    assert watching.watcher.wait_idle(DEADLINE)


def test_a_file_dropped_in_changed_and_deleted_is_added_updated_and_removed(watching):
    assert watching.first is not None and watching.first.added == ["first"]
    assert "aardvark" in _stored(watching.settings, "first")

    second = watching.folder / "second.txt"
    second.write_text(_article("bumblebee"))
    _until(lambda: _stored(watching.settings, "second") == load_article(second).text,
           "a dropped file is indexed")

    second.write_text(_article("cormorant"))
    _until(lambda: "cormorant" in (_stored(watching.settings, "second") or ""),
           "a changed file is indexed again")
    assert "bumblebee" not in _stored(watching.settings, "second")

    second.unlink()
    _until(lambda: "second" not in _doc_ids(watching.settings), "a deleted file's article goes")
    _settled(watching)
    assert watching.reports_naming("second") == ["added", "updated", "removed"]
    assert _doc_ids(watching.settings) == {"first"}
    assert not watching.warnings


def test_a_file_moved_out_of_the_folder_is_removed(watching, tmp_path):
    (watching.folder / "first.txt").rename(tmp_path / "first.txt")
    _until(lambda: not _doc_ids(watching.settings), "a file moved out takes its article along")


@pytest.mark.parametrize("pieces, pause", [(2, 0.15), (10, 0.1)],
                         ids=["two-parts", "still-growing"])
def test_a_file_being_written_is_read_only_once_complete(watching, pieces, pause):
    """The pauses are shorter than the debounce; ten pieces take three debounces to write."""
    slow = watching.folder / "slow.txt"
    text = _article("dromedary", sentences=3 * pieces)
    step = len(text) // pieces + 1
    with slow.open("w") as fh:
        for start in range(0, len(text), step):
            fh.write(text[start:start + step])
            fh.flush()
            time.sleep(pause)
    _until(lambda: _stored(watching.settings, "slow"), "the finished file is indexed")
    _settled(watching)
    assert _stored(watching.settings, "slow") == load_article(slow).text
    assert watching.reports_naming("slow") == ["added"]  # never first with a part of it


def test_a_download_under_a_temporary_name_is_read_once_renamed(watching):
    """Browsers write `x.txt.part` (with stalls longer than the debounce) and rename it when
    done; lock files (`~$x`) and dot files are never articles."""
    text = _article("echidna", sentences=12)
    part = watching.folder / "x.txt.part"
    part.write_text(text[:len(text) // 2])
    (watching.folder / "~$x.txt").write_text("owner lock")
    (watching.folder / ".x.txt.swp").write_text("swap")
    time.sleep(4 * DEBOUNCE)  # a stalled download: long enough for a watcher to (wrongly) read it
    with part.open("a") as fh:
        fh.write(text[len(text) // 2:])
    part.rename(watching.folder / "x.txt")
    _until(lambda: _stored(watching.settings, "x"), "the renamed download is indexed")
    _settled(watching)
    assert _stored(watching.settings, "x") == load_article(watching.folder / "x.txt").text
    assert watching.reports_naming("x") == ["added"]
    assert _doc_ids(watching.settings) == {"first", "x"}
    # `x.txt.part` has the suffix `.part`: no article suffix, so never looked at
    assert not watching.watcher.watches(watching.folder / "y.txt.part")


def test_files_dropped_together_are_written_in_one_transaction(watching):
    for name in ("gnu", "heron", "ibis"):
        (watching.folder / f"{name}.md").write_text(f"# {name.title()}\n\n{_article(name)}")
    _until(lambda: {"gnu", "heron", "ibis"} <= _doc_ids(watching.settings), "all three indexed")
    _settled(watching)
    assert [sorted(r.added) for r in watching.changes] == [["gnu", "heron", "ibis"]]


def test_an_unreadable_file_is_a_warning_and_watching_goes_on(watching):
    (watching.folder / "broken.txt").write_bytes(b"\x00\x01\x02 not text")
    _until(lambda: watching.warnings, "a warning about the unreadable file")
    assert "broken.txt" in watching.warnings[0] and "binary" in watching.warnings[0]
    (watching.folder / "jackal.txt").write_text(_article("jackal"))
    _until(lambda: _stored(watching.settings, "jackal"), "the next good file is indexed")
    assert "broken" not in _doc_ids(watching.settings)


def test_a_busy_index_is_retried_later(watching):
    """Another process writing the index (its lock held here) delays the batch, not loses it."""
    with write_lock(watching.settings.index):
        (watching.folder / "kestrel.txt").write_text(_article("kestrel"))
        _until(lambda: any("another process" in w for w in watching.warnings),
               "a warning that the index is busy")
        assert "kestrel" not in _doc_ids(watching.settings)
    _until(lambda: _stored(watching.settings, "kestrel"), "the batch is written once the lock goes")


def test_watch_needs_an_existing_folder(capsys, tmp_path):
    (tmp_path / "a-file.txt").write_text("not a folder")
    for target, says in ((tmp_path / "missing", "no such folder"),
                         (tmp_path / "a-file.txt", "not a folder")):
        assert main(["watch", str(target), "--index", str(tmp_path / "index")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("rag: error: ") and says in err[0], err


def test_rag_watch_reports_each_change_and_stops_cleanly_on_ctrl_c(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text(_article("lemur"))
    env = {**os.environ, "RAG_WATCH_DEBOUNCE": str(DEBOUNCE), "PYTHONUNBUFFERED": "1",
           "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "watch", str(folder), "--index", str(tmp_path / "index")],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=s, into=into: into.extend(s), daemon=True)
               for s, into in ((process.stdout, out), (process.stderr, err))]
    for reader in readers:
        reader.start()
    try:
        _until(lambda: any("Watching" in line for line in err), "the watch starts", timeout=180)
        (folder / "mongoose.txt").write_text(_article("mongoose"))
        _until(lambda: "added: mongoose\n" in out, "the change is printed")
        (folder / "first.txt").unlink()
        _until(lambda: "removed: first\n" in out, "the removal is printed")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # every thread's stack (faulthandler), to say where
            process.send_signal(signal.SIGABRT)
            process.wait(timeout=30)
            for reader in readers:
                reader.join(timeout=10)
            pytest.fail("rag watch did not stop within 60 s of Ctrl-C; its stderr:\n"
                        + "".join(err)[-8000:])
    for reader in readers:
        reader.join(timeout=10)
    assert code == 0, "".join(err)
    assert "Traceback" not in "".join(err)
    assert out[0].startswith("1 added, 0 updated, 0 removed")  # the initial sync


def test_a_vanished_folder_stops_the_watching_and_keeps_its_articles(watching):
    """An unmounted or renamed folder looks like every file deleted; emptying the index then
    would be wrong."""
    for path in watching.folder.iterdir():
        path.unlink()
    watching.folder.rmdir()
    _until(lambda: not watching.watcher.running(), "the watcher stops")
    assert "the folder is gone" in str(watching.watcher.failure)
    assert _doc_ids(watching.settings) == {"first"}


def test_a_file_gone_between_settling_and_reading_is_passed_over(watching):
    """The race, run deterministically: the batch holds a file that settled (its stamp) and is
    gone by the time it is read. It is looked at again and, still gone, is a deletion: nothing
    to index or warn about, and the watching goes on."""
    _settled(watching)
    gone = watching.folder / "gone.txt"
    watching.watcher._process({gone: (120, 1_700_000_000_000_000_000)})
    _settled(watching)
    assert watching.watcher.running() and not watching.warnings
    (watching.folder / "narwhal.txt").write_text(_article("narwhal"))
    _until(lambda: _stored(watching.settings, "narwhal"), "the next file is indexed")
    assert _doc_ids(watching.settings) == {"first", "narwhal"}


def test_a_batch_that_fails_is_a_warning_and_watching_goes_on(tmp_path, embedder):
    """Anything a batch raises (here the caller's own on_change) is a warning, not the end."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    settings = Settings(index=tmp_path / "index", watch_debounce=DEBOUNCE)
    changes: list[IngestReport] = []
    warnings: list[str] = []

    def on_change(report: IngestReport) -> None:
        changes.append(report)
        if len(changes) == 1:
            raise OSError(errno.EPIPE, "Broken pipe")

    watcher = Watcher(folder, settings, embedder, on_change=on_change, on_warning=warnings.append)
    watcher.start()
    try:
        (folder / "ocelot.txt").write_text(_article("ocelot"))
        _until(lambda: warnings, "a warning about the failed batch")
        assert warnings == ["could not update the index: BrokenPipeError: [Errno 32] Broken pipe"]
        (folder / "puffin.txt").write_text(_article("puffin"))
        _until(lambda: len(changes) == 2, "the next batch")
        assert watcher.running() and changes[1].added == ["puffin"]
    finally:
        watcher.stop()


def test_rag_watch_ends_in_one_line_and_exit_2_if_the_watching_dies(tmp_path, embedder,
                                                                    monkeypatch, capsys):
    """A bug in the watcher's own loop must not leave `rag watch` exiting 0 with a thread's
    traceback. The loop is broken on purpose; the session's embedder saves a model load."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text(_article("quokka"))
    monkeypatch.setattr("rag.models.embedding.Embedder", lambda *args, **kwargs: embedder)

    def broken(self):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(Watcher, "_take_ready", broken)
    code = main(["watch", str(folder), "--index", str(tmp_path / "index")])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("rag: error: ")]
    assert code == 2
    assert errors == [f"rag: error: stopped watching {folder.resolve()} on an unexpected error "
                      "(RuntimeError: a bug over two lines)"], captured.err
    assert "Traceback" not in captured.err
    assert captured.out.startswith("1 added")  # the sync happened before the loop broke


def test_an_inotify_limit_is_one_line_saying_what_to_raise(tmp_path, embedder, monkeypatch):
    """Each watched folder takes one inotify watch; past the user's limit watchdog raises
    ENOSPC. Raised here on purpose: reaching the real limit would starve the machine."""
    from watchdog.observers import Observer

    def limit_reached(self):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "start", limit_reached)
    watcher = Watcher(tmp_path, Settings(index=tmp_path / "index"), embedder)
    with pytest.raises(BadInput) as caught:
        watcher.start()
    message = str(caught.value)
    assert "inotify watch limit reached" in message and "\n" not in message
    assert "sudo sysctl fs.inotify.max_user_watches=" in message
    assert not watcher.running()
