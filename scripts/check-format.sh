#!/usr/bin/env bash
# Checks that every C source and header the project keeps under git is formatted as the committed
# .clang-format says (clang-format --dry-run -Werror). Prints each file that drifts and how to fix it.
# Usage: scripts/check-format.sh [SOURCE_DIR]. Exits 0 when all are formatted, 1 when one is not,
# 2 when clang-format or git is missing, 77 (a skip for ctest) outside a git checkout.
# The formatter is Debian 12's clang-format (14): another version may lay some lines out otherwise.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"

for tool in clang-format git; do
    if ! command -v "$tool" >/dev/null; then
        echo "check-format: $tool not found; install it with: apt-get install $tool" >&2
        exit 2
    fi
done

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "check-format: $src is not a git checkout: nothing says which files are the project's" >&2
    exit 77
fi

mapfile -t files < <(git ls-files -- 'agent/*.[ch]' 'bench/*.[ch]' 'cli/*.[ch]' 'config/*.[ch]' \
    'coordinator/*.[ch]' 'examples/*.[ch]' 'include/*.[ch]' 'lib/*.[ch]' 'tests/*.[ch]' \
    'fuzz/*.[ch]')
if [ "${#files[@]}" -eq 0 ]; then
    echo "check-format: git lists no C files under $src" >&2
    exit 2
fi

# One clang-format for all files; each drift is reported as "FILE:LINE:COL: error: ...".
out=$(clang-format --dry-run -Werror --style=file "${files[@]}" 2>&1) && rc=0 || rc=$?
mapfile -t bad < <(printf '%s\n' "$out" | sed -n 's/^\([^:]*\.[ch]\):[0-9]*:[0-9]*: .*/\1/p' | sort -u)
if [ "$rc" -ne 0 ] && [ "${#bad[@]}" -eq 0 ]; then
    printf '%s\n' "$out" >&2
    echo "check-format: clang-format failed (exit $rc)" >&2
    exit 2
fi

if [ "${#bad[@]}" -gt 0 ]; then
    echo "check-format: ${#bad[@]} of ${#files[@]} files differ from .clang-format:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    echo "fix with: clang-format -i ${bad[*]}" >&2
    echo "(see the first differences with: clang-format --dry-run ${bad[0]})" >&2
    exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
