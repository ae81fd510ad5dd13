#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: Java for Spark, Debian's Chromium for the
# browser tests (Playwright drives it; no browser is downloaded), Debian's PostgreSQL server for
# the production profile's instance (scripts/postgres.sh starts one per test run), then the
# pinned venv.
# Only the package registries are used (Debian's packages and PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
[ -x /usr/bin/chromium ] || packages+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || packages+=(postgresql)
if [ ${#packages[@]} -gt 0 ]; then
  echo "bootstrap: installing ${packages[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

PYTHON=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q uv
fi
if [ ! -x .venv/bin/python ]; then
  uv venv -q .venv --python "$PYTHON"
fi
# Bytecode compiled here, once: where PYTHONDONTWRITEBYTECODE is set, every process (each run,
# code server, daemon, dbt call) would otherwise compile Dagster, dbt and pandas again on import.
uv pip install -q --compile-bytecode --python .venv/bin/python -e '.[dev]'
