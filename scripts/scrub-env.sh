# shellcheck shell=bash
# scrub-env.sh - sourced by scripts/test.sh and scripts/demo.sh: the scrubbed
# environment their builds, tests and demo run in.
#
# Nothing from the caller's environment reaches them. The script re-executes
# itself under `env -i` with exactly these variables:
#
#   PATH=/usr/sbin:/usr/bin:/sbin:/bin   the system's own tools only: no
#                                        /usr/local, no pyenv or SDK shims
#   LANG=C.UTF-8                         one locale everywhere (built into glibc)
#   TERM=dumb                            no terminal capabilities assumed
#   TMPDIR=/tmp
#   PYTHONDONTWRITEBYTECODE=1            python writes no __pycache__ into the tree
#   PORTCO_SCRUBBED=1                    marks the re-executed run
#
# and HOME set to a fresh empty directory that the script removes when it
# ends. Signals the caller ignored (nohup's SIGHUP, SIGINT in a background
# job) are handled by default again. So a test or demo step that leans on
# something a developer's machine happens to have (PYTHONUNBUFFERED, a
# python3 first on PATH, a JAVA_HOME, PORTCO_SOCKET, a compiler in CC...)
# fails on every machine, not only on a new one.

readonly SCRUB_ENV=(PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb TMPDIR=/tmp
    PYTHONDONTWRITEBYTECODE=1 PORTCO_SCRUBBED=1)

# scrub_env_exec SCRIPT [ARGS...]: unless this already is the scrubbed run,
# replace this process with `/bin/bash SCRIPT ARGS...` in the scrubbed
# environment. SCRIPT must be an absolute path. Returns only in the scrubbed run.
scrub_env_exec() {
    [ "${PORTCO_SCRUBBED:-}" = 1 ] && return 0
    exec /usr/bin/env -i --default-signal "${SCRUB_ENV[@]}" /bin/bash "$@"
}

# scrub_env_enter PROG TOOL...: in the scrubbed run, check that the
# environment holds nothing but SCRUB_ENV (a caller that sets
# PORTCO_SCRUBBED=1 itself does not skip the scrubbing), and that every TOOL
# is found on PATH and belongs to a Debian package (so scripts/setup.sh
# installed it and no local build stands in for it). Then point HOME at a
# fresh directory, whose path is left in $scrub_home for the caller's cleanup.
# Returns 1 with a message on stderr when a check fails.
scrub_env_enter() {
    local prog=$1 name v want path real bad=()
    shift
    for name in $(compgen -e); do
        case $name in
        PWD | OLDPWD | SHLVL | _) continue ;; # set by bash itself
        esac
        want=no
        for v in "${SCRUB_ENV[@]}"; do
            [ "$v" = "$name=${!name}" ] && want=yes
        done
        [ "$want" = yes ] || bad+=("$name")
    done
    if [ ${#bad[@]} -gt 0 ]; then
        echo "$prog: the environment is not scrubbed; unexpected: ${bad[*]}" >&2
        return 1
    fi
    for name in "$@"; do
        path=$(command -v "$name") || {
            echo "$prog: $name is not installed (run scripts/setup.sh)" >&2
            return 1
        }
        real=$(readlink -f "$path")
        # Debian 12 merges /bin into /usr/bin but records many files under /bin.
        if ! dpkg -S "$real" >/dev/null 2>&1 && ! dpkg -S "${real#/usr}" >/dev/null 2>&1; then
            echo "$prog: $path ($real) belongs to no Debian package" >&2
            return 1
        fi
    done
    scrub_home=$(mktemp -d /tmp/portco-home.XXXXXX) || return 1
    export HOME=$scrub_home
}
