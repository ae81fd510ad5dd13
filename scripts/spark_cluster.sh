#!/usr/bin/env bash
# A Spark standalone cluster on this machine, from the venv's pyspark: one master and one worker,
# both bound to 127.0.0.1 (never to all interfaces). For tests and for trying the production
# profile (MERIDIAN_SPARK_MASTER=spark://...) without a real cluster.
#
#   scripts/spark_cluster.sh start DIR   # logs, pid files, work dir under DIR; URL in DIR/master_url
#   scripts/spark_cluster.sh stop DIR    # kills both (and the worker's executors), waits
#
# `start` returns once the worker has registered with the master; on failure it prints the
# logs' tails, stops whatever it started and exits non-zero. Ports are free ones unless given:
# SPARK_MASTER_PORT, SPARK_MASTER_WEBUI_PORT, SPARK_WORKER_PORT, SPARK_WORKER_WEBUI_PORT.
# The worker offers SPARK_WORKER_CORES (1) and SPARK_WORKER_MEMORY (2g): one executor of
# Spark's default 1g fits. SPARK_CLUSTER_TIMEOUT (90 s) bounds the wait for registration.
# Java is the one on PATH (or JAVA_HOME), as for local Spark.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)

venv_bin=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.venv/bin" && pwd)
# spark-class finds SPARK_HOME (the pyspark package) with the `python3` first on PATH.
export PATH="$venv_bin:$PATH"
export SPARK_LOCAL_IP=127.0.0.1        # RPC, web UIs and the executors bind here
export SPARK_LOCAL_HOSTNAME=127.0.0.1  # and advertise this address, not the machine's name
export SPARK_CONF_DIR="$dir/conf"      # no spark-defaults.conf or spark-env.sh from elsewhere
export SPARK_LOCAL_DIRS="$dir/local"   # executors' shuffle and spill files
export SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-512m}  # heap of the master and worker JVMs
# A busy port is an error, not a silent move to the next one (the URL written would be wrong).
export SPARK_DAEMON_JAVA_OPTS="-Dspark.port.maxRetries=0 ${SPARK_DAEMON_JAVA_OPTS:-}"
# No REST submission server (it would listen on 6066 and accept unauthenticated submissions);
# drivers connect to the master's RPC port.
export SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false ${SPARK_MASTER_OPTS:-}"

pids=("$dir/worker.pid" "$dir/master.pid")

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
  local pidfile pid i
  for pidfile in "${pids[@]}"; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    # Each daemon leads its own process group (setsid): the worker's executors go with it.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$pidfile"
  done
  rm -f "$dir/master_url" "$dir/master_webui_url"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

fail() {
  echo "spark_cluster: $*" >&2
  local log
  for log in "$dir/master.log" "$dir/worker.log"; do
    [[ -f $log ]] && { echo "--- tail of $log" >&2; tail -n 40 "$log" >&2; }
  done
  stop
  exit 1
}

# Alive workers the master reports, from its web UI's JSON ("" while it does not answer).
alive_workers() {
  python3 - "$1" <<'EOF' 2>/dev/null || true
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    state = json.load(r)
print(state.get("aliveworkers", sum(w.get("state") == "ALIVE" for w in state.get("workers", []))))
EOF
}

start() {
  command -v java >/dev/null || [[ -n ${JAVA_HOME:-} ]] || { echo "spark_cluster: no java on PATH" >&2; exit 1; }
  if alive "$dir/master.pid" || alive "$dir/worker.pid"; then
    echo "spark_cluster: already running in $dir (stop it first)" >&2
    exit 1
  fi
  mkdir -p "$SPARK_CONF_DIR" "$SPARK_LOCAL_DIRS" "$dir/work"
  rm -f "$dir/master_url" "$dir/master_webui_url" "$dir/master.log" "$dir/worker.log"
  trap 'fail "interrupted"' INT TERM

  local master_port=${SPARK_MASTER_PORT:-$(free_port)}
  local master_webui=${SPARK_MASTER_WEBUI_PORT:-$(free_port)}
  local worker_port=${SPARK_WORKER_PORT:-$(free_port)}
  local worker_webui=${SPARK_WORKER_WEBUI_PORT:-$(free_port)}
  local url="spark://127.0.0.1:$master_port"
  local json="http://127.0.0.1:$master_webui/json"

  # setsid: each daemon leads its own process group, so `stop` takes the JVM and its children.
  setsid spark-class org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$master_port" --webui-port "$master_webui" \
    >"$dir/master.log" 2>&1 </dev/null &
  echo $! >"$dir/master.pid"
  setsid spark-class org.apache.spark.deploy.worker.Worker "$url" \
    --host 127.0.0.1 --port "$worker_port" --webui-port "$worker_webui" \
    --cores "${SPARK_WORKER_CORES:-1}" --memory "${SPARK_WORKER_MEMORY:-2g}" --work-dir "$dir/work" \
    >"$dir/worker.log" 2>&1 </dev/null &
  echo $! >"$dir/worker.pid"

  local deadline=$((SECONDS + ${SPARK_CLUSTER_TIMEOUT:-90}))
  until [[ $(alive_workers "$json") =~ ^[1-9] ]]; do
    alive "$dir/master.pid" || fail "the master exited"
    alive "$dir/worker.pid" || fail "the worker exited"
    ((SECONDS < deadline)) || fail "no worker registered with $url within ${SPARK_CLUSTER_TIMEOUT:-90} s"
    sleep 0.5
  done
  echo "$url" >"$dir/master_url"
  echo "$json" >"$dir/master_webui_url"
  trap - INT TERM
  echo "spark_cluster: $url (master UI http://127.0.0.1:$master_webui, worker UI http://127.0.0.1:$worker_webui)"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
