#!/usr/bin/env bash
# Install the assistant into .venv (idempotent; fast once this CPU's llama.cpp wheel is built).
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh --test   also pytest, Playwright and Debian's Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
LLAMA_CPP=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)  # the one pin, in pyproject.toml
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi

# llama.cpp is built once per CPU kind into a wheel kept in the user cache: with this CPU's own
# vector extensions (AVX-512 with VNNI doubles prompt speed over AVX2 on the AMD EPYC machines
# here) and never with the AMX kernels, which crash on some virtualised Xeons
# (ggml-org/llama.cpp#20824). A CMAKE_ARGS of your own (CUDA, Metal…) replaces this choice.
if [ -z "${CMAKE_ARGS:-}" ]; then
  cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  has() { [[ "$cpu_flags" == *" $1 "* ]]; }
  variant=avx2
  cmake="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  cmake+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  if has avx512f && has avx512cd && has avx512vl && has avx512dq && has avx512bw; then
    variant=avx512; cmake+=" -DGGML_AVX512=ON"
    for ext in avx512_vnni:AVX512_VNNI avx512vbmi:AVX512_VBMI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
      if has "${ext%%:*}"; then variant+="-${ext%%:*}"; cmake+=" -DGGML_${ext##*:}=ON"; fi
    done
  else
    cmake+=" -DGGML_AVX512=OFF"
  fi
  variant="${LLAMA_CPP#*==}-$variant"
  wheels="${XDG_CACHE_HOME:-$HOME/.cache}/rag/wheels/llama-cpp-python-$variant"
  if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "Building llama.cpp for this CPU ($variant) once; this takes about 8 minutes on 2 cores…"
    mkdir -p "$wheels.partial"
    CMAKE_ARGS="$cmake" "$VENV/bin/pip" wheel --quiet --no-deps --no-cache-dir "$LLAMA_CPP" -w "$wheels.partial"
    rm -rf "$wheels" && mv "$wheels.partial" "$wheels"
  fi
  if [ "$(cat "$VENV/.llama-cpu" 2>/dev/null)" != "$variant" ]; then
    "$VENV/bin/pip" install --quiet --no-deps --force-reinstall "$wheels"/llama_cpp_python-*.whl
    echo "$variant" > "$VENV/.llama-cpu"
  fi
fi

extras=""
if [ "${1:-}" = "--test" ]; then extras="[test]"; fi
echo "Installing Python packages into $VENV…"
"$VENV/bin/pip" install --quiet --progress-bar off -e ".$extras"

if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
