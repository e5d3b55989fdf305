#!/usr/bin/env bash
# Citations resolve inside the repository (issue 14, item 7). Run from the repository root.
#  1. No tracked file cites the sibling folder "shared" one level up (a user who clones the
#     repository does not have it): sourced figures live in docs/reference/, the design in
#     docs/design.md. .ci/ (CI machinery) and this script are not checked.
#  2. Every docs/reference/NAME.md or docs/design.md a tracked file names exists.
#  3. Every "published-runs.md X9" section id and every "hardware.md §N" section cited exists as
#     a heading of that file.
# Exit 0 when all hold, 1 with the offending files and citations listed, 77 (skipped) when this
# is not a git checkout.
set -uo pipefail
cd "${1:-.}" || exit 1
self=tests/docs/check_references.sh
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "check_references: not a git checkout, skipped"
  exit 77
fi
mapfile -d '' files < <(git ls-files -z | grep -zv -e '^\.ci/' -e "^$self\$")
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
fail=0

# 1. The folder outside the repository (pattern built so this script does not match itself).
up='\.\.'/shared
mapfile -t outside < <(printf '%s\0' "${existing[@]}" | xargs -0 grep -l -E "$up" -- 2>/dev/null)
if [ "${#outside[@]}" -gt 0 ]; then
  echo "check_references: ${#outside[@]} tracked file(s) cite ../shared (use docs/reference/ or docs/design.md):"
  printf '  %s\n' "${outside[@]}"
  fail=1
fi

# 2. Cited documentation files exist.
while read -r doc; do
  [ -z "$doc" ] && continue
  if [ ! -f "$doc" ]; then
    echo "check_references: $doc is cited but does not exist; cited in:"
    printf '%s\0' "${existing[@]}" | xargs -0 grep -l -F -- "$doc" | sed 's/^/  /'
    fail=1
  fi
done < <(printf '%s\0' "${existing[@]}" |
           xargs -0 grep -ohE 'docs/(reference/[A-Za-z0-9._-]+\.md|design\.md)' -- | sort -u)

# 3. Cited section ids exist.
runs=docs/reference/published-runs.md
hw=docs/reference/hardware.md
while read -r id; do
  [ -z "$id" ] && continue
  if ! grep -qE "^##+ ${id}([ .]|\$)" "$runs"; then
    echo "check_references: published-runs.md $id is cited but $runs has no section $id"
    fail=1
  fi
done < <(printf '%s\0' "${existing[@]}" |
           xargs -0 grep -ohE 'published-runs\.md,? (sections? )?[A-E][0-9]*\b' -- |
           grep -oE '[A-E][0-9]*$' | sort -u)
while read -r sec; do
  [ -z "$sec" ] && continue
  if ! grep -qE "^##+ ${sec}\. " "$hw"; then
    echo "check_references: hardware.md §$sec is cited but $hw has no section $sec"
    fail=1
  fi
done < <(printf '%s\0' "${existing[@]}" |
           xargs -0 grep -ohE 'hardware\.md,? §[0-9]+[a-d]?' -- | grep -oE '[0-9]+[a-d]?$' | sort -u)

[ "$fail" = 0 ] && echo "check_references: every citation resolves inside the repository"
exit "$fail"
