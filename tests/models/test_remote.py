"""Generation through a real OpenAI-compatible server process (llama-cpp-python's server on the
default GGUF): the same answers, citation checks and abstention as in-process, and one clear line
when the server is down, slow, or not an OpenAI server at all."""

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager

import pytest

from rag.answer.assistant import Assistant
from rag.answer.events import Final, Sources, Token
from rag.errors import ServiceUnavailable
from rag.models.remote import RemoteGenerator
from tests.check.test_verifier import STUBB, as_passages


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llm_url(assistant, tmp_path_factory):
    """`python -m llama_cpp.server` on the session's GGUF file, as a user would start it."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("llm-server") / "server.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(assistant.generator.path),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--seed", "0"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"the model server exited: {log.read()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the model server did not start within 180 s")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def remote(seed_settings, seed_index, embedder, llm_url) -> Assistant:
    settings = seed_settings.model_copy(update={"llm_url": llm_url})
    return Assistant(settings, embedder=embedder, index=seed_index)


def test_answers_through_the_server_with_checked_citations(remote):
    assert remote.generator.name.endswith(remote.settings.llm_url.split("//")[1].removesuffix("/v1"))
    events = list(remote.stream("How many countries did Macron say are ready to send troops?"))
    kinds = [type(e) for e in events]
    assert kinds.index(Sources) < kinds.index(Token) < kinds.index(Final)  # sources, then stream
    record = events[-1].record
    assert "26" in record.answer and record.citations and not record.abstained
    assert record.prompt_tokens > 300
    assert remote.ask("Who won the 2018 football World Cup?").abstained


@pytest.mark.parametrize("sentence, supported", [
    ("Trump urged the US and its allies to coordinate on sanctions [1].", True),
    ("Swedish President Alexander Stubb said Trump urged the US to coordinate on sanctions [1].",
     False),
])
def test_the_entailment_check_reads_the_same_odds_as_in_process(remote, assistant, sentence,
                                                                 supported):
    """Yes/No log-probs from the API against the logits read in-process, on the same check."""
    question = "Who urged coordination on sanctions?"
    local = assistant.verify(question, as_passages([STUBB]), sentence)
    served = remote.verify(question, as_passages([STUBB]), sentence)
    assert local.supported is served.supported is supported
    assert served.probability is not None
    assert abs(served.probability - local.probability) < 0.1, (local, served)


def test_token_counts_come_from_the_server(remote, assistant):
    text = "Zelenskyy and Trump will meet on the sidelines of the UN General Assembly."
    assert remote.generator.count_tokens(text) == assistant.generator.count_tokens(text)


@contextmanager
def _fake_server(reply: bytes, delay: float = 0.0):
    """An HTTP server that is not an OpenAI server: it sends `reply` after `delay` seconds."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def _ask_in_a_process(url: str, tmp_path, timeout: str = "30") -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_LLM_URL": url, "RAG_LLM_TIMEOUT": timeout}
    return subprocess.run([sys.executable, "-m", "rag.cli", "ask", "Who is Steve Witkoff?",
                           "--index", str(tmp_path / "index")],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("case", ["down", "garbage", "slow"])
def test_a_bad_server_is_one_line_and_exit_2(case, tmp_path):
    if case == "down":
        proc = _ask_in_a_process(f"http://127.0.0.1:{_free_port()}/v1", tmp_path)
        expected = "no model server answers"
    elif case == "garbage":
        with _fake_server(b"<html>hello</html>") as url:
            proc = _ask_in_a_process(url, tmp_path)
        expected = "is not an OpenAI model list"
    else:
        with _fake_server(b"{}", delay=5) as url:
            proc = _ask_in_a_process(url, tmp_path, timeout="1")
        expected = "did not answer a model list within 1 s"
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert expected in proc.stderr


def test_garbage_in_the_middle_of_an_answer_is_one_error(seed_settings):
    """A server that lists a model but streams nonsense: the answer fails with the same error."""
    with _fake_server(b'{"object": "list", "data": [{"id": "m", "object": "model"}]}') as url:
        generator = RemoteGenerator(url, api_key=None, model=None, timeout=5, n_ctx=4096)
        assert generator.model == "m"
        assert generator.count_tokens("abcdef") == 2  # no tokenize endpoint: a byte-based estimate
        with pytest.raises(ServiceUnavailable, match="not an OpenAI chat completion"):
            generator.chat([{"role": "user", "content": "Hi"}], max_tokens=8)
