# shellcheck shell=bash
# What the benchmarks that deploy to local nodes share (bench/deploy.sh,
# bench/fanout.sh): a work dir, the host-script contract of
# tests/integration/nodes_lib.sh (T, IT_CLEANUP_HOOKS, IT_BG_PIDS, log,
# fail), cleanup on exit (nodes down, work dir removed), and the clocks and
# counters the tables are made of. Sourced by a benchmark as root, after it
# has set REPO and BENCH_TMP:
#   bench_nodes_setup NAME   W=$(mktemp -d $BENCH_TMP/cfs-bench-NAME.XXXXXX),
#                            log/fail prefixed with NAME, trap cleanup EXIT,
#                            nodes_lib.sh sourced
#   now                      seconds since the epoch, with nanoseconds
#   wire                     bytes the deploy host sent to the nodes so far
#                            (the nodes' bridge tx counter: SSH, TCP and IP
#                            included); after nodes_up

bench_nodes_setup() {
  BENCH_NAME=$1
  W=$(mktemp -d "$BENCH_TMP/cfs-bench-$BENCH_NAME.XXXXXX")
  # shellcheck disable=SC2034  # what nodes_lib.sh expects from its host script
  T=$W
  IT_CLEANUP_HOOKS=()
  # shellcheck disable=SC2034  # read by nodes_lib.sh's cleanup
  IT_BG_PIDS=()
  trap bench_nodes_cleanup EXIT
  # shellcheck source=tests/integration/nodes_lib.sh
  source "$REPO/tests/integration/nodes_lib.sh"
}

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%T)" "$*" >&2; }
fail() {
  echo "bench/$BENCH_NAME.sh: $*" >&2
  exit 1
}
bench_nodes_cleanup() {
  local h
  for h in "${IT_CLEANUP_HOOKS[@]}"; do eval "$h" || true; done
  rm -rf "$W"
}
now() { date +%s.%N; }
wire() { cat "/sys/class/net/$NODES_BRIDGE/statistics/tx_bytes"; }
