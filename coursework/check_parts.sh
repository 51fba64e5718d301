#!/usr/bin/env bash
# coursework/check_parts.sh [DIR]: proves that the tasks can be done in order (issue 14 §5). For
# k = 0, 1, …, the last part: writes the student copy with parts ≤ k solved and the rest stubbed
# (`tapezoo exercise new DIR --upto k`, in place after the first: only files whose content changed
# are rewritten, so ninja recompiles a few units), builds only its grader (app/tapezoo), grades, and
# requires full marks on every task of parts ≤ k and zero on every task of parts > k, and no
# -Wunused warning in the build (a stub that left a parameter unused).
# Run by .ci/run after ./zoo test (it uses build/app/tapezoo of the project). DIR defaults to
# build-course/student (ignored by git: build*/). Prints the time of the cold and the warm builds.
set -uo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
TAPEZOO=$ROOT/build/app/tapezoo
DIR=${1:-$ROOT/build-course/student}
[[ -x $TAPEZOO ]] || { echo "check_parts: $TAPEZOO is not built (run ./zoo build first)"; exit 1; }

parts=$("$TAPEZOO" grade --json | python3 -c '
import json, sys
print(" ".join(sorted({t["id"].split(".")[0] for t in json.load(sys.stdin)["tasks"]}, key=int)))') || exit 1
rm -rf "$DIR"
status=0
for k in 0 $parts; do
  start=$SECONDS
  if [[ $k == 0 ]]; then
    "$TAPEZOO" exercise new "$DIR" --upto 0 >/dev/null || exit 1
    (cd "$DIR" && meson setup build-grade >/dev/null) || { echo "check_parts: meson setup failed in $DIR"; exit 1; }
  else
    "$TAPEZOO" exercise new "$DIR" --upto "$k" --update >/dev/null || exit 1
  fi
  if ! ninja -C "$DIR/build-grade" app/tapezoo >"$DIR/ninja.log" 2>&1; then
    grep -v -E '^\[[0-9]+/[0-9]+\] ' "$DIR/ninja.log"
    echo "check_parts: the copy with parts <= $k solved does not build"
    exit 1
  fi
  # A stub must leave the copy's build clean: it marks the parameters it does not use (void).
  if grep -E 'warning: .*\[-Wunused' "$DIR/ninja.log"; then
    echo "check_parts: the copy with parts <= $k solved builds with the unused-code warnings above"
    status=1
  fi
  built=$((SECONDS - start))
  "$DIR/build-grade/app/tapezoo" grade --json >"$DIR/grade.json" || { echo "check_parts: grade failed (upto $k)"; exit 1; }
  python3 - "$DIR/grade.json" "$k" "$built" <<'PY' || status=1
import json, sys
report, k, built = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
bad = []
for t in report["tasks"]:
    part = int(t["id"].split(".")[0])
    want = t["points"] if part <= k else 0
    if t["score"] != want:
        bad.append(f'task {t["id"]}: {t["score"]}/{t["points"]}, expected {want} ({t["status"]}: {t["message"]})')
solved = sum(t["score"] for t in report["tasks"])
print(f"check_parts: --upto {k}: {solved}/{report['max']} points, built in {built} s" + ("" if not bad else ": WRONG"))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
done
exit "$status"
