#!/usr/bin/env bash
# sigserve side by side with the servers users would pick instead: protocol
# v1 on uWebSockets.js and on Node's ws (tests/perf/reference/), and the
# WebRTC codelab's socket.io server (tests/dialects/codelab_server.mjs,
# load-tested with sigbench --dialect socketio-codelab). Measures server CPU
# per peer session and RSS per idle connection, several rounds, and prints a
# Markdown table with ratios against uWebSockets.js (or --baseline KEY).
#
#   tests/perf/side_by_side.sh [--rounds N] [--servers LIST] [--baseline KEY]
#                              [--concurrency N] [--json FILE] [--syscalls] ...
#   tests/perf/side_by_side.sh --servers sigserve-t1,codelab --concurrency 2 --baseline codelab
#   SIGSERVE=path/to/sigserve SIGBENCH=path/to/sigbench tests/perf/side_by_side.sh
#
# The codelab server relays every message to every socket, so with many
# rooms in flight (--concurrency, default 200) it does that many times the
# work; --concurrency 2 compares one room at a time. Its misrouted relays are
# a note beside its row; for every other server they fail the row's checks.
#
# This wrapper prepares the environment (reference and dialect servers'
# packages, open-files limit, strace for --syscalls) and runs
# side_by_side.mjs, which does the measuring; `--help` lists every option.
# Exit codes: 0 every row passed its checks, 1 a row failed a check, 2 usage
# error, 3 could not set up or run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
reference="$here/reference"

die() { echo "side_by_side: $*" >&2; exit 3; }

dialects=$(cd "$here/../dialects" && pwd) || die "tests/dialects is missing (the codelab server lives there)"

command -v node >/dev/null || die "node is not installed (Node 18 or 20 is needed)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ $node_major == 18 || $node_major == 20 ]] ||
  echo "side_by_side: warning: Node $node_major; the uWebSockets.js binaries cover Node 18 and 20" >&2

want_syscalls=0
for arg in "$@"; do
  case $arg in
    --help|-h) exec node "$here/side_by_side.mjs" --help ;;
    --syscalls) want_syscalls=1 ;;
  esac
done

# The reference servers' packages, exactly as locked.
if [[ ! -f $reference/node_modules/ws/package.json ||
      ! -f $reference/node_modules/@trufflesuite/uws-js-unofficial/package.json ]]; then
  command -v npm >/dev/null || die "npm is not installed; it is needed once to install tests/perf/reference"
  echo "side_by_side: installing the reference servers' packages (npm ci)" >&2
  (cd "$reference" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
    die "npm ci failed in $reference"
fi

# The codelab server's packages (socket.io), exactly as locked.
if [[ ! -f $dialects/node_modules/socket.io/package.json ]]; then
  command -v npm >/dev/null || die "npm is not installed; it is needed once to install tests/dialects"
  echo "side_by_side: installing the dialect servers' packages (npm ci)" >&2
  (cd "$dialects" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
    die "npm ci failed in $dialects"
fi

if (( want_syscalls )) && ! command -v strace >/dev/null; then
  echo "side_by_side: installing strace for --syscalls" >&2
  if [[ $(id -u) == 0 ]]; then apt-get install -y -q strace >&2 || die "could not install strace"
  elif command -v sudo >/dev/null; then sudo apt-get install -y -q strace >&2 || die "could not install strace"
  else die "--syscalls needs strace (apt-get install strace)"
  fi
fi

# 8,000 idle connections need more descriptors than the usual soft limit;
# every server started from here inherits this.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then ulimit -n 65536; else ulimit -n "$hard"; fi

# Every process the driver starts is listed here, so that even if the driver
# itself is killed, this trap ends them (by pid, nothing else).
pidfile=$(mktemp "${TMPDIR:-/tmp}/side_by_side.pids.XXXXXX")
driver=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [[ -n $driver ]] && kill -TERM "$driver" 2>/dev/null && wait "$driver" 2>/dev/null
  while read -r pid; do
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
  done < "$pidfile"
  rm -f "$pidfile"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background and waited for, so that a signal reaches the trap at once.
SIDE_BY_SIDE_PIDFILE=$pidfile node "$here/side_by_side.mjs" "$@" &
driver=$!
set +e
wait "$driver"
status=$?
driver=
exit "$status"
