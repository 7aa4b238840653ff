#!/usr/bin/env bash
# The one entry point on a fresh Debian bookworm machine (as root or with sudo):
#
#   tools/dev.sh run [sigserve flags]   install what is missing, build, start sigserve
#   tools/dev.sh test                   install what is missing, build, run every test
#   tools/dev.sh fuzz [SECONDS]         build the libFuzzer targets (clang) and run each (default 60 s)
#
# `test` also builds and runs the suite under ASan+UBSan and under TSan, and
# runs every fuzzer for a bounded time, when CI=true or with --sanitize.
# Packages are installed only when missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
jobs=$(nproc)

# zlib1g-dev: HdrHistogram's compressed histograms in sigbench's reports.
# help2man writes the man pages; dpkg-dev (dpkg-shlibdeps) and file let cpack
# compute the .deb's dependencies.
build_packages=(g++ cmake ninja-build ccache pkg-config libboost1.81-dev libcli11-dev nlohmann-json3-dev libssl-dev libidn-dev
  zlib1g-dev help2man dpkg-dev file)
test_packages=(catch2 chromium coturn nginx openssl redis-server)
fuzz_packages=(clang libclang-rt-14-dev)

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  # Node.js may come from Debian (nodejs + npm) or elsewhere (npm bundled).
  if [ "${need_node:-0}" = 1 ] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

configure_and_build() {  # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

run_suite() {  # dir
  ctest --test-dir "$1" -j "$jobs" --output-on-failure
}

run_fuzzers() {  # seconds per target
  local seconds=$1 dir=build-fuzz
  CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIGKIT_FUZZ=ON \
    -DSIGKIT_BUILD_TESTS=OFF -DSIGKIT_BUILD_TOOLS=OFF >/dev/null
  local targets
  targets=$(sed -n 's/^sigkit_fuzzer(\([a-z_]*\) .*/\1/p' tests/fuzz/CMakeLists.txt)
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$jobs" --target $targets
  for t in $targets; do
    mkdir -p "$dir/corpus/$t"
    echo "fuzzing $t for $seconds s"
    "$dir/tests/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 "$dir/corpus/$t" 2>"$dir/$t.log" ||
      { tail -50 "$dir/$t.log" >&2; echo "fuzzer $t found a crash" >&2; exit 1; }
    grep -E "stat::number_of_executed_units" "$dir/$t.log" || true
  done
}

case "${1:-}" in
  run)
    shift
    install_missing "${build_packages[@]}"
    configure_and_build build-release -DCMAKE_BUILD_TYPE=Release -DSIGKIT_BUILD_TESTS=OFF
    exec build-release/tools/sigserve/sigserve "$@"
    ;;
  test)
    shift
    sanitize=0
    [ "${CI:-}" = "true" ] && sanitize=1
    [ "${1:-}" = "--sanitize" ] && sanitize=1
    need_node=1 install_missing "${build_packages[@]}" "${test_packages[@]}"
    if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then
      echo "the browser test needs Node.js 18 or newer (found $(node --version))" >&2
      exit 1
    fi
    for d in tests/browser tests/dialects tests/interop; do (cd "$d" && npm ci --no-audit --no-fund --loglevel=error); done
    started=$SECONDS
    configure_and_build build
    run_suite build
    echo "main suite: $((SECONDS - started)) s"
    if [ "$sanitize" = 1 ]; then
      # The browser test exercises the page, not the server's memory; it
      # stays in the main suite.
      for s in "address,undefined" "thread"; do
        started=$SECONDS
        dir="build-${s%%,*}"
        configure_and_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DSIGKIT_SANITIZE="$s" -DSIGKIT_BROWSER_TESTS=OFF
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
          run_suite "$dir"
        echo "sanitizer suite ($s): $((SECONDS - started)) s"
      done
      started=$SECONDS
      install_missing "${fuzz_packages[@]}"
      run_fuzzers 60
      echo "fuzzers: $((SECONDS - started)) s"
    fi
    ;;
  fuzz)
    shift
    install_missing "${build_packages[@]}" "${fuzz_packages[@]}"
    run_fuzzers "${1:-60}"
    ;;
  *)
    echo "usage: tools/dev.sh run [sigserve flags] | tools/dev.sh test [--sanitize] | tools/dev.sh fuzz [SECONDS]" >&2
    exit 2
    ;;
esac
