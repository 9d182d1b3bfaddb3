#!/bin/bash
# Every shell script of the repository (deploy/host, scripts/, tests/,
# bench/, examples/) passes shellcheck at severity warning and above. A
# finding that is right to keep is disabled on its line, with the reason in
# a comment (`# shellcheck disable=SCnnnn  # why`).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
command -v shellcheck >/dev/null ||
  { echo "[shellcheck] FAIL: shellcheck is not installed (apt-get install shellcheck; scripts/setup.sh does)" >&2; exit 1; }
mapfile -d '' scripts < <(find "$REPO" \( -name 'build*' -o -name .git \) -prune -o \
  -type f -name '*.sh' -print0 | sort -z)
[ "${#scripts[@]}" -gt 20 ] || { echo "[shellcheck] FAIL: found only ${#scripts[@]} scripts under $REPO" >&2; exit 1; }
for d in deploy/host scripts tests/integration bench; do
  printf '%s\n' "${scripts[@]}" | grep "^$REPO/$d/" >/dev/null ||
    { echo "[shellcheck] FAIL: no script found under $d/" >&2; exit 1; }
done
# -x: follow `source` of the test libraries; -P: where they are. From the
# repository root, where `# shellcheck source=PATH` directives are relative to.
cd "$REPO"
if ! shellcheck -S warning -x -P SCRIPTDIR -f gcc "${scripts[@]}"; then
  echo "[shellcheck] FAIL: findings above (of ${#scripts[@]} scripts)" >&2
  exit 1
fi
echo "[shellcheck] PASS: ${#scripts[@]} scripts" >&2
