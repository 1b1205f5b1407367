"""Prompt and generation speed of each llama.cpp build that `scripts/setup.sh` has made, side by side.

setup.sh keeps one llama-cpp-python wheel per CPU kind in ~/.cache/rag/wheels/ (AVX2; AVX-512 with
VNNI/BF16 where the CPU has them; never AMX). This loads each wheel in its own process on the
default GGUF and times, in alternating rounds: reading a 480-token prompt from an empty cache, a
100-token suffix after a cached prefix (the shape of one verifier check), and 48 generated tokens.
Medians; the ratio is against the first build listed.

Run: .venv/bin/python benchmarks/bench_cpu_builds.py [--rounds N] [WHEEL ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.models.gguf import default_model_path  # noqa: E402
from rag.settings import Settings  # noqa: E402

ONE_ROUND = r"""
import json, sys, time
from llama_cpp import Llama, llama_print_system_info
llm = Llama(sys.argv[1], n_ctx=2048, n_threads=int(sys.argv[2]), verbose=False, seed=0)
text = open(sys.argv[3], encoding="utf-8").read()
tokens = llm.tokenize(text.encode())[:480]
llm.reset(); started = time.perf_counter(); llm.eval(tokens); prompt_s = time.perf_counter() - started
llm.n_tokens = 380; started = time.perf_counter(); llm.eval(tokens[380:]); suffix_s = time.perf_counter() - started
llm.create_completion(text[:600], max_tokens=1, temperature=0.0)  # the prompt, now cached
started = time.perf_counter()
out = llm.create_completion(text[:600], max_tokens=48, temperature=0.0)
gen_s = time.perf_counter() - started
print(json.dumps({"features": llama_print_system_info().decode(), "prompt_tps": len(tokens) / prompt_s,
                  "suffix_ms": suffix_s * 1000, "gen_tps": out["usage"]["completion_tokens"] / gen_s}))
"""


def unpack(wheel: Path, into: Path) -> Path:
    target = into / wheel.parent.name
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheels", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = Settings()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag" / "wheels"
    wheels = args.wheels or sorted(cache.glob("*/llama_cpp_python-*.whl"))
    if not wheels:
        sys.exit("bench_cpu_builds: no wheels; run scripts/setup.sh first or pass wheel files")
    model = str(default_model_path(settings.cache_dir))
    threads = settings.n_threads or os.cpu_count() or 1
    article = str(sorted((ROOT / "seeds").glob("*.txt"))[0])
    runs: dict[str, list[dict]] = {w.parent.name: [] for w in wheels}
    with tempfile.TemporaryDirectory() as tmp:
        sites = {w.parent.name: unpack(w, Path(tmp)) for w in wheels}
        for _ in range(args.rounds):
            for name, site in sites.items():
                command = [sys.executable, "-c", ONE_ROUND, model, str(threads), article]
                out = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(site)},
                                     capture_output=True, text=True, check=True)
                runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = None
    print(f"{'build':72s} {'prompt tok/s':>12s} {'100-tok suffix ms':>18s} {'gen tok/s':>10s} "
          f"{'prompt ratio':>12s}")
    for name, rows in runs.items():
        prompt = statistics.median(r["prompt_tps"] for r in rows)
        base = base or prompt
        print(f"{name:72s} {prompt:12.1f} {statistics.median(r['suffix_ms'] for r in rows):18.0f} "
              f"{statistics.median(r['gen_tps'] for r in rows):10.1f} {prompt / base:11.2f}x")
    for name, rows in runs.items():
        print(f"{name}: {rows[0]['features'].strip()}")


if __name__ == "__main__":
    main()
