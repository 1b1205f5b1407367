"""Generation through any OpenAI-compatible server: llama.cpp's or llama-cpp-python's server,
vLLM, a hosted endpoint. Same prompts, same citation checks and abstention as in-process.

What the in-process model reads from llama.cpp directly comes from the API here:
- The entailment check's Yes/No preference comes from `logprobs` with `top_logprobs` on a
  one-token reply: the same log-odds the in-process check reads from the logits.
- Token counts (to fit passages into the context) come from the server's tokenize endpoint
  (llama-cpp-python `/extras/tokenize`, llama.cpp and vLLM `/tokenize`). A server with none gets
  a deliberately high estimate of one token per three bytes, so prompts err on the short side.
- The context size is not in the API: `RAG_N_CTX` must match the server's.

A server that is down, slow (`RAG_LLM_TIMEOUT`, per reply or per streamed piece), refuses, or
replies with something other than a chat completion is one `ServiceUnavailable` line.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx  # what the OpenAI client itself speaks HTTP with

from rag.errors import BadInput, ServiceUnavailable
from rag.types import Block

_TOP_LOGPROBS = 20  # the most the OpenAI API allows
_YES, _NO = ("Yes", "yes"), ("No", "no")


def _import_openai():
    try:
        import openai
    except ImportError:
        raise BadInput("RAG_LLM_URL needs the OpenAI client; install it with: "
                       "pip install -e '.[remote]'") from None
    return openai


class RemoteGenerator:
    """The `ChatModel` of `rag.models.chat` over HTTP. One answer and its checks at a time per
    process (`session`), as in-process, so a check follows its own answer in the server's cache."""

    has_chat_template = True  # the server applies the model's template
    last_evaluated = 0  # not reported by the API
    last_splice = None  # a server keeps its own prompt cache

    def __init__(self, url: str, *, api_key: str | None, model: str | None, timeout: float,
                 n_ctx: int, seed: int = 0) -> None:
        openai = _import_openai()
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadInput(f"RAG_LLM_URL must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                           f"not {url!r}")
        self.timeout = timeout
        self.n_ctx = n_ctx
        self.seed = seed
        self._errors = openai
        self._client = openai.OpenAI(base_url=self.url, api_key=api_key or "none",
                                     timeout=timeout, max_retries=0)
        self._session = threading.Lock()
        self._count: Callable[[str], int] | None = None
        self.model = model or self._first_model()
        self.name = f"{self.model} at {parts.netloc}"

    # -- the ChatModel interface ----------------------------------------------------------------

    def stream_chat(self, messages: list[dict], *, max_tokens: int, temperature: float,
                    stop: Sequence[str] = (), shares_start_with: list[dict] | None = None,
                    blocks: Sequence[Block] = (), grammar: str | None = None) -> Iterator[str]:
        """`shares_start_with` and `blocks` are for in-process llama.cpp; a server keeps its own
        prompt cache and reads every prompt whole. A `grammar` goes as the `grammar` field that
        llama.cpp's and llama-cpp-python's servers read; a server that ignores it may write
        anything, which is why quotes are checked against the passages after the fact."""
        extra = {"grammar": grammar} if grammar is not None else None
        with self._calling("chat completion"):
            stream = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens,
                temperature=temperature, seed=self.seed, stop=list(stop) or None, stream=True,
                extra_body=extra)
            finished = False
            for event in stream:
                if not event.choices:
                    continue
                if piece := event.choices[0].delta.content:
                    yield piece
                finished = finished or event.choices[0].finish_reason is not None
            if not finished:  # an OpenAI stream always ends with a finish reason
                raise ValueError("the stream ended without a finish reason")

    def chat(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0) -> str:
        return "".join(self.stream_chat(messages, max_tokens=max_tokens, temperature=temperature))

    def warm(self, messages: list[dict], blocks: Sequence[Block]) -> None:
        """Nothing to warm: the server reads every prompt whole."""
        return None

    def yes_probability(self, messages: list[dict], blocks: Sequence[Block] = ()) -> float:
        """P(Yes) against P(No) as the reply's first token, from the server's top log-probs; a
        server without log-probs gets 1 or 0 from the word it replies with."""
        with self._calling("chat completion"):
            reply = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=1, temperature=0.0,
                seed=self.seed, logprobs=True, top_logprobs=_TOP_LOGPROBS)
            choice = reply.choices[0]
            tokens = choice.logprobs.content if choice.logprobs else None
            if not tokens:
                return 1.0 if (choice.message.content or "").strip().startswith(_YES) else 0.0
            top = {t.token: t.logprob for t in tokens[0].top_logprobs}
        floor = min(top.values(), default=0.0) - 1.0  # below everything listed
        yes = max((top[t] for t in _YES if t in top), default=floor)
        no = max((top[t] for t in _NO if t in top), default=floor)
        return 1.0 / (1.0 + math.exp(no - yes))

    def count_tokens(self, text: str) -> int:
        if self._count is None:
            self._count = self._find_tokenizer()
        return self._count(text)

    def prompt_tokens(self, messages: list[dict]) -> int:
        """The contents' tokens plus a few per message for the template the server applies."""
        return sum(self.count_tokens(m["content"]) + 4 for m in messages) + 3

    def session(self) -> threading.Lock:
        return self._session

    # -- the server -----------------------------------------------------------------------------

    def _first_model(self) -> str:
        with self._calling("model list"):
            models = [m.id for m in self._client.models.list()]
        if not models:
            raise ServiceUnavailable(f"the model server at {self.url} lists no model; set RAG_LLM_MODEL")
        return models[0]

    def _find_tokenizer(self) -> Callable[[str], int]:
        """The first tokenize endpoint the server has, else the estimate."""
        root = self.url.removesuffix("/v1")
        candidates = [
            (f"{root}/extras/tokenize", lambda text: {"input": text, "model": self.model}),
            (f"{root}/tokenize", lambda text: {"content": text}),
            (f"{root}/tokenize", lambda text: {"prompt": text, "model": self.model}),
        ]
        http = httpx.Client(timeout=self.timeout,
                            headers={"Authorization": f"Bearer {self._client.api_key}"})
        for endpoint, body in candidates:
            def count(text: str, endpoint=endpoint, body=body) -> int:
                reply = http.post(endpoint, json=body(text))
                reply.raise_for_status()
                return len(reply.json()["tokens"])
            try:
                count("probe")
            except Exception:
                continue
            return self._guarded(count)
        http.close()
        return lambda text: math.ceil(len(text.encode("utf-8")) / 3)

    def _guarded(self, count: Callable[[str], int]) -> Callable[[str], int]:
        def guarded(text: str) -> int:
            with self._calling("tokenize"):
                return count(text)
        return guarded

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Every way a call can fail, as one line that says what to do."""
        openai = self._errors
        try:
            yield
        except openai.APITimeoutError:
            raise ServiceUnavailable(f"the model server at {self.url} did not answer a {what} within "
                                     f"{self.timeout:g} s (RAG_LLM_TIMEOUT)") from None
        except openai.APIConnectionError:
            raise ServiceUnavailable(f"no model server answers at {self.url}; start one (for "
                                     "example: python -m llama_cpp.server --model FILE.gguf) or "
                                     "fix RAG_LLM_URL") from None
        except openai.APIStatusError as exc:
            raise ServiceUnavailable(f"the model server at {self.url} refused a {what}: HTTP "
                                     f"{exc.status_code} {_first_line(exc.message)}") from None
        except ServiceUnavailable:
            raise
        except Exception:  # a reply that is not what the API promises
            raise ServiceUnavailable(f"what {self.url} sent is not an OpenAI {what}; is RAG_LLM_URL "
                                     "the /v1 address of an OpenAI-compatible server?") from None


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else ""
