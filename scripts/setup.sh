#!/usr/bin/env bash
# Install the assistant into .venv (idempotent; fast once pip's cache holds the llama.cpp wheel).
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh --test   also pytest, Playwright and Debian's Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
# llama.cpp's AMX kernels crash on some virtualised Xeons (ggml-org/llama.cpp#20824), and a native
# build picks them up wherever the CPU reports AMX; build a portable AVX2 library instead.
export CMAKE_ARGS=${CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi

extras=""
if [ "${1:-}" = "--test" ]; then extras="[test]"; fi
echo "Installing Python packages into $VENV (the first llama-cpp-python build takes about 8 minutes)…"
"$VENV/bin/pip" install --quiet --progress-bar off -e ".$extras"

# A llama.cpp wheel built natively elsewhere (and cached by pip) may carry the AMX kernels: rebuild.
if "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit('AMX_INT8 = 1' in llama_cpp.llama_print_system_info().decode())"; then :; else
  echo "Rebuilding llama-cpp-python without AMX kernels…"
  "$VENV/bin/pip" install --quiet --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==0.3.36"
fi

if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
