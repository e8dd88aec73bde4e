#!/usr/bin/env bash
# The whole test suite, from a fresh clone: a venv with every backend, then lint, types, the
# docs site, a wheel and an sdist installed in a clean venv, pytest in a NumPy-only venv, and
# pytest with every backend last.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 NO_MKDOCS_2_WARNING=1
python3 -m venv .venv
.venv/bin/pip install -q torch==2.13.0  # first: the CPU build; no range may pull a CUDA one
.venv/bin/pip install -q -e ".[test,test-peers,jax,flax,equinox,dask,demo,docs,lint,numba]" build

echo "== ruff, mypy, pyright"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/mypy --strict tests/typing
.venv/bin/pyright --pythonpath .venv/bin/python tests/typing

echo "== docs (mkdocs --strict)"
.venv/bin/mkdocs build --strict -q -d "$(mktemp -d)"

echo "== wheel and sdist, installed in a clean venv"
dist=$(mktemp -d)
.venv/bin/python -m build -q -o "$dist" . >/dev/null
for artifact in "$dist"/*.whl "$dist"/*.tar.gz; do
    python3 -m venv "$dist/venv" --clear
    "$dist/venv/bin/pip" install -q "$artifact"
    (cd "$dist" && "$dist/venv/bin/python" -m spatial_dropout --version)
done

echo "== pytest, NumPy only: the runtime dependencies and the test tools, nothing optional"
python3 -m venv .venv-min --clear
.venv-min/bin/pip install -q -e ".[test]"
SPATIAL_DROPOUT_TEST_BACKENDS=numpy,array_api_strict,ml_dtypes .venv-min/bin/python -m pytest -q

echo "== pytest, every backend"
.venv/bin/python -m pytest -q
