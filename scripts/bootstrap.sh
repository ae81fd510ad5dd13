#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: Java for Spark, then the pinned venv.
# Only the package registries are used (Debian's packages and PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
  echo "bootstrap: installing Java 17 for Spark" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless
fi

PYTHON=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q uv
fi
if [ ! -x .venv/bin/python ]; then
  uv venv -q .venv --python "$PYTHON"
fi
uv pip install -q --python .venv/bin/python -e '.[dev]'
