#!/usr/bin/env bash
# Run a local CNCF distribution registry (Debian's docker-registry) for demos and the Makefile.
#
#   scripts/registry.sh start  [DATA_DIR]   start in the background (default data: /var/lib/slipway-registry)
#   scripts/registry.sh stop   [DATA_DIR]   stop the one started from DATA_DIR
#   scripts/registry.sh status [DATA_DIR]   exit 0 if running and answering /v2/
#
# Environment: SLIPWAY_REGISTRY_ADDR (default 127.0.0.1:5000).
# Needs: apt-get install -y docker-registry skopeo
set -euo pipefail

cmd="${1:-}"
data="${2:-/var/lib/slipway-registry}"
addr="${SLIPWAY_REGISTRY_ADDR:-127.0.0.1:5000}"
bin=/usr/bin/docker-registry
pidfile="$data/registry.pid"
logfile="$data/registry.log"
config="$data/config.yml"

running() {
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

answering() {
    command -v curl >/dev/null 2>&1 || { running; return; }
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/v2/" || true)"
    [[ "$code" == 200 || "$code" == 401 ]]
}

case "$cmd" in
start)
    if [[ ! -x "$bin" ]]; then
        echo "registry.sh: $bin is missing: run the setup (apt-get install -y docker-registry skopeo)" >&2
        exit 1
    fi
    if running; then
        echo "registry already running (pid $(cat "$pidfile")) at $addr, data $data"
        exit 0
    fi
    mkdir -p "$data/storage"
    cat >"$config" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $data/storage
  delete:
    enabled: true
http:
  addr: $addr
YAML
    nohup "$bin" serve "$config" >>"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        if ! running; then
            echo "registry.sh: docker-registry exited; see $logfile" >&2
            tail -n 20 "$logfile" >&2 || true
            exit 1
        fi
        if answering; then
            echo "registry running (pid $(cat "$pidfile")) at http://$addr, data $data, log $logfile"
            exit 0
        fi
        sleep 0.1
    done
    echo "registry.sh: no answer on http://$addr/v2/ after 10s; see $logfile" >&2
    exit 1
    ;;
stop)
    if running; then
        pid="$(cat "$pidfile")"
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$pidfile"
        echo "registry stopped"
    else
        rm -f "$pidfile"
        echo "registry not running"
    fi
    ;;
status)
    if running && answering; then
        echo "registry running (pid $(cat "$pidfile")) at http://$addr, data $data"
    else
        echo "registry not running (data $data)"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 start|stop|status [DATA_DIR]" >&2
    exit 2
    ;;
esac
