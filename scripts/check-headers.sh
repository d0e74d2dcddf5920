#!/usr/bin/env bash
# Checks that files match modules in the daemons' sources:
#  - every function declared in a header X.h is defined in the X.c next to it (a header that
#    declares functions must have that .c);
#  - every .c file of agent/ except main.c has a header of the same name;
#  - no .c file of the daemons and their libraries (agent, coordinator, cli, config, lib) has
#    more than 600 lines: a longer one holds more than one module.
# Usage: scripts/check-headers.sh [SOURCE_DIR]. Prints each mismatch and exits 1 if there is any.
# The parser is line-based and relies on the committed .clang-format: function definitions start
# in column 0 and their opening brace is on a line of its own.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"

dirs=(agent coordinator cli config lib/common lib/probe lib/proto lib/zk lib/http)

# Prints the names of the functions a C file declares (mode "decl": prototypes ending in ';') or
# defines with external linkage (mode "def": bodies, static ones left out), one a line. Comments,
# preprocessor lines and everything inside braces are skipped.
names() {
    awk -v mode="$1" '
    function flush(   s, name) {
        s = stmt; stmt = ""
        gsub(/__attribute__ *\(\([^;{]*\)\)/, "", s)
        if (s !~ /\(/ || s ~ /^[ \t]*(typedef|struct|enum|union)[ \t]/ || s ~ /=/)
            return
        if (mode == "def" && s ~ /(^|[ \t])static[ \t]/)
            return
        sub(/[ \t]*\(.*/, "", s)
        n = split(s, w, /[^A-Za-z0-9_]+/)
        name = w[n]
        if (name != "" && name !~ /^[A-Z0-9_]+$/)
            print name
    }
    BEGIN { depth = 0; incomment = 0; stmt = "" }
    {
        line = $0
        if (incomment) {
            if (line !~ /\*\//) next
            sub(/.*\*\//, "", line); incomment = 0
        }
        gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", line)
        if (line ~ /\/\*/) { sub(/\/\*.*/, "", line); incomment = 1 }
        sub(/\/\/.*/, "", line)
        if (cont) { cont = (line ~ /\\$/); next }
        if (line ~ /^[ \t]*#/) { cont = (line ~ /\\$/); next }
        gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
        gsub(/'"'"'([^'"'"'\\]|\\.)*'"'"'/, "0", line)
        for (i = 1; i <= length(line); i++) {
            ch = substr(line, i, 1)
            if (ch == "{") {
                if (depth == 0 && mode == "def") flush()
                depth++; stmt = ""
            } else if (ch == "}") {
                depth--; stmt = ""
            } else if (depth == 0) {
                if (ch == ";") {
                    if (mode == "decl") flush()
                    stmt = ""
                } else {
                    stmt = stmt ch
                }
            }
        }
        if (depth == 0) stmt = stmt " "
    }' "$2"
}

fail=0
for d in "${dirs[@]}"; do
    for h in "$d"/*.h; do
        [ -e "$h" ] || continue
        c=${h%.h}.c
        declared=$(names decl "$h" | sort -u)
        [ -n "$declared" ] || continue
        if [ ! -e "$c" ]; then
            echo "$h declares functions but there is no $c:" $declared
            fail=1
            continue
        fi
        defined=$(names def "$c" | sort -u)
        for f in $(comm -23 <(echo "$declared") <(echo "$defined")); do
            where=$(grep -l -E "^[A-Za-z].*[ *]$f\(" --include='*.c' -r "${dirs[@]}" | head -1 || true)
            echo "$h declares $f, which is defined ${where:+in $where, }not in $c"
            fail=1
        done
    done
done

for c in agent/*.c; do
    [ "$c" = agent/main.c ] && continue
    if [ ! -e "${c%.c}.h" ]; then
        echo "$c has no header ${c%.c}.h"
        fail=1
    fi
done

for c in agent/*.c coordinator/*.c cli/*.c config/*.c lib/*/*.c; do
    n=$(wc -l <"$c")
    if [ "$n" -gt 600 ]; then
        echo "$c has $n lines (at most 600)"
        fail=1
    fi
done

exit $fail
