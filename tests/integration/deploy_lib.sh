# shellcheck shell=bash
# The start the deploy tests share (deploy*.sh). Sourced after lib.sh and
# nodes_lib.sh, not run (CMake skips *_lib.sh).
#
#   deploy_setup TAG SUBNET COUNT [TOOL...]
#       it_setup with the tools every deploy needs (ssh ssh-keygen ip nsenter)
#       and TOOLs, cfs_setup, then nodes_up TAG SUBNET COUNT (TAG and SUBNET
#       the test's own). Sets M0 N1 N2, the addresses of nodes 1 to 3 (as
#       many as there are; node 1 the master in the tests' Clusterfiles), and
#       KH=(--known-hosts $NODE_KNOWN_HOSTS), the options of cimg that trust
#       the nodes' host keys. Runs in the test's own shell (nodes_up must).
#   np I ABSPATH    node_path I ABSPATH: what node I wrote there

deploy_setup() {
  local tag=$1 subnet=$2 count=$3
  shift 3
  it_setup ssh ssh-keygen ip nsenter "$@"
  cfs_setup
  nodes_up "$tag" "$subnet" "$count"
  # shellcheck disable=SC2034 # M0 N1 N2 KH are for the tests that source this
  M0=${NODE_IP_1:-} N1=${NODE_IP_2:-} N2=${NODE_IP_3:-} KH=(--known-hosts "$NODE_KNOWN_HOSTS")
}

np() { node_path "$1" "$2"; }
