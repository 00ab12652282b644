# Shared helpers for the measurement scripts (bench/*.sh, scripts/tcl-suite.sh). Source it; it
# defines functions and the arrays that track what this script started, and nothing else.
#
# Every server a script starts is recorded in LIB_PIDS; lib_cleanup (installed as a trap by the
# caller) stops exactly those processes and nothing else: the machine is shared with other people's
# servers, so nothing is ever killed by name.

LIB_PIDS=()
LIB_TMP_PATHS=()
# A directive ours rejected once is left out of later starts in the same run.
LIB_OURS_DROPPED=""
LIB_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
LIB_GARNET_DIR="${GARNET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/redoubt-bench/garnet}"
LIB_GARNET_VERSION="${GARNET_VERSION:-2.2.8}"

lib_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
lib_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# True when something listens on TCP port $1 (any address, v4 or v6).
lib_port_in_use() {
  [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# Prints a port nobody listens on. The range sits below the kernel's ephemeral range (so outgoing
# connections never hold it) and away from the bases the Tcl suite's runners hard-code (20000-30000+).
lib_free_port() {
  local lo="${LIB_PORT_LO:-12000}" hi="${LIB_PORT_HI:-19999}" p tries
  for tries in $(seq 1 200); do
    p=$((lo + RANDOM % (hi - lo + 1)))
    if ! lib_port_in_use "$p" && ! lib_port_in_use "$((p + 10000))"; then
      echo "$p"; return 0
    fi
  done
  lib_die "no free port found in $lo-$hi"
}

# True when process $1 is the one listening on port $2: another user's server may have taken the
# port between our check and our bind, and then we must not measure theirs.
lib_owns_port() {
  ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
}

# True while process $1 runs (a zombie, exited but not yet waited for, counts as gone).
lib_alive() {
  local s
  s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  s="${s##*) }"
  [[ "${s:0:1}" != Z ]]
}

# Waits until process $1 answers PING on port $2, for at most $3 seconds (default 60).
# Fails early when the process exits.
lib_wait_ready() {
  local pid="$1" port="$2" limit="${3:-60}" start=$SECONDS
  while ((SECONDS - start < limit)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]] && lib_owns_port "$pid" "$port"; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Stops process $1: SIGTERM, up to $2 seconds (default 10) for it to exit, then SIGKILL.
lib_stop_pid() {
  local pid="$1" grace="${2:-10}" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

lib_forget_pid() {
  local keep=() p
  for p in "${LIB_PIDS[@]}"; do [[ "$p" != "$1" ]] && keep+=("$p"); done
  LIB_PIDS=("${keep[@]}")
}

lib_cleanup() {
  local p
  for p in "${LIB_PIDS[@]}"; do lib_stop_pid "$p" 5; done
  LIB_PIDS=()
  for p in "${LIB_TMP_PATHS[@]}"; do [[ -n "$p" && -e "$p" ]] && rm -rf -- "$p"; done
  LIB_TMP_PATHS=()
}

# Garnet is a .NET global tool; it lives outside the repository. Prints the binary's path, or
# prints the reason to stderr and fails when it cannot be installed.
lib_garnet_bin() {
  local bin="$LIB_GARNET_DIR/garnet-server" out
  if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "$LIB_GARNET_VERSION"; then
    echo "$bin"; return 0
  fi
  if [[ -x "$bin" ]]; then
    # Installed, but --version is not always supported: trust the tool manifest instead.
    if dotnet tool list --tool-path "$LIB_GARNET_DIR" 2>/dev/null | grep -qi "garnet-server *$LIB_GARNET_VERSION"; then
      echo "$bin"; return 0
    fi
  fi
  command -v dotnet >/dev/null || { echo "garnet: dotnet not found, cannot install garnet-server" >&2; return 1; }
  mkdir -p "$LIB_GARNET_DIR"
  lib_log "installing garnet-server $LIB_GARNET_VERSION into $LIB_GARNET_DIR"
  if ! out="$(dotnet tool install --tool-path "$LIB_GARNET_DIR" garnet-server --version "$LIB_GARNET_VERSION" 2>&1)"; then
    if ! out2="$(dotnet tool update --tool-path "$LIB_GARNET_DIR" garnet-server --version "$LIB_GARNET_VERSION" 2>&1)"; then
      printf 'garnet: install failed:\n%s\n%s\n' "$out" "$out2" >&2
      return 1
    fi
  fi
  [[ -x "$bin" ]] || { echo "garnet: install reported success but $bin is missing" >&2; return 1; }
  echo "$bin"
}

# Builds the command line of server kind $1 (ours|redis|garnet) on port $2 into the array LIB_CMD.
# $3 is ours' launcher (default: this checkout's ./redoubt).
lib_server_cmd() {
  local kind="$1" port="$2"
  case "$kind" in
    ours)
      LIB_CMD=("${REDOUBT:-$LIB_ROOT/redoubt}" server --port "$port" --bind 127.0.0.1 --save '' --appendonly no) ;;
    redis)
      LIB_CMD=("${REDIS_SERVER:-redis-server}" --port "$port" --bind 127.0.0.1 --save '' --appendonly no) ;;
    garnet)
      LIB_CMD=("$LIB_GARNET" --port "$port" --bind 127.0.0.1) ;;
    *) lib_die "unknown server kind: $kind" ;;
  esac
}

# Starts server kind $1 on a free loopback port, waits until it answers, and sets LIB_PID, LIB_PORT
# and LIB_LOG. Retries on another port when someone else took the port first. A directive our server
# does not know yet (it grows) is dropped with a warning rather than failing the whole measurement.
lib_start_server() {
  local kind="$1" logdir="$2" attempt dropped=""
  [[ "$kind" == ours ]] && dropped="$LIB_OURS_DROPPED"
  for attempt in 1 2 3 4 5; do
    LIB_PORT="$(lib_free_port)"
    lib_server_cmd "$kind" "$LIB_PORT"
    if [[ -n "$dropped" ]]; then
      local c=() i=0
      while ((i < ${#LIB_CMD[@]})); do
        if [[ "${LIB_CMD[i]}" == "--$dropped" ]]; then i=$((i + 2)); continue; fi
        c+=("${LIB_CMD[i]}"); i=$((i + 1))
      done
      LIB_CMD=("${c[@]}")
    fi
    LIB_LOG="$logdir/$kind-$LIB_PORT.log"
    # LIB_EXTRA_ARGS (an array) adds arguments; LIB_WORKDIR runs the server in that directory.
    ( cd "${LIB_WORKDIR:-.}" && exec "${LIB_CMD[@]}" ${LIB_EXTRA_ARGS[@]+"${LIB_EXTRA_ARGS[@]}"} ) >"$LIB_LOG" 2>&1 </dev/null &
    LIB_PID=$!
    LIB_PIDS+=("$LIB_PID")
    if lib_wait_ready "$LIB_PID" "$LIB_PORT" "${LIB_START_TIMEOUT:-120}"; then
      return 0
    fi
    lib_stop_pid "$LIB_PID" 5
    lib_forget_pid "$LIB_PID"
    if [[ "$kind" == ours && -z "$dropped" ]] && grep -q "^>>> 'appendonly" "$LIB_LOG" 2>/dev/null; then
      lib_log "warning: ours rejects 'appendonly no' (not implemented yet); starting without it"
      dropped=appendonly LIB_OURS_DROPPED=appendonly
      continue
    fi
    if grep -qiE 'address already in use|Could not create server TCP listening socket|Failed to bind|SocketException' "$LIB_LOG" 2>/dev/null || lib_port_in_use "$LIB_PORT"; then
      lib_log "port $LIB_PORT was taken, retrying ($kind)"
      continue
    fi
    lib_log "$kind failed to start; last lines of $LIB_LOG:"
    tail -n 15 "$LIB_LOG" >&2 || true
    return 1
  done
  lib_log "$kind: gave up after 5 attempts"
  return 1
}

# Prints the CPU time (user+system, in clock ticks) process $1 has used so far. Field 2 (comm) may
# hold spaces and parentheses, so fields are counted after the last ')'.
lib_cpu_ticks() {
  local stat rest
  stat="$(cat "/proc/$1/stat")" || return 1
  rest="${stat##*) }"
  # rest starts at field 3 (state); utime and stime are fields 14 and 15.
  awk '{ print $12 + $13 }' <<<"$rest"
}

lib_clk_tck() { getconf CLK_TCK; }

# Prints the resident set size of process $1 in bytes.
lib_rss_bytes() {
  awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# Prints INFO memory's used_memory of the server on port $1, or "n/a" when it has none.
lib_used_memory() {
  local v
  v="$(timeout 10 redis-cli -h 127.0.0.1 -p "$1" info memory 2>/dev/null | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }')" || true
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo "n/a"
}

# Median of the numbers on stdin (one per line; "n/a" lines ignored); "n/a" when there are none.
lib_median() {
  { grep -E '^-?[0-9.]+$' || true; } | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "n/a"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Stops the servers started so far (lib_start_server) and keeps the temporary paths, unlike lib_cleanup.
lib_stop_servers() {
  local p
  for p in "${LIB_PIDS[@]}"; do lib_stop_pid "$p" 5; done
  LIB_PIDS=()
}

# SET throughput of the server on port $1: requests $2, pipeline $3 (50 clients, 100k random keys,
# 10-byte values). Prints requests per second.
lib_bench_set() {
  redis-benchmark -h 127.0.0.1 -p "$1" -t set -n "$2" -P "$3" -c 50 -r 100000 -d 10 -q 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i == "requests") print $(i-1)}' | tail -1
}

# Prints a Markdown row "| label | ours | redis | ours/redis |" from two medians.
lib_ratio_row() {
  local label="$1" o="$2" r="$3" ratio="n/a"
  [[ "$o" =~ ^[0-9.]+$ && "$r" =~ ^[0-9.]+$ ]] && ratio=$(awk -v a="$o" -v b="$r" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }')
  echo "| $label | ${o:-n/a} | ${r:-n/a} | $ratio |"
}

# The options bench/persistence.sh and bench/replication.sh share: -k/--keys, -n, -P, -r/--rounds,
# -s/--servers, -o/--out and -h/--help (which calls the caller's usage function). Sets keys, n,
# pipeline, rounds, server_list and out (defaults 1000000, 500000, 16, 3, ours+redis, none).
lib_parse_bench_options() {
  keys=1000000 n=${default_requests:-500000} pipeline=16 rounds=3 out=""
  local servers=ours,redis v
  while (($#)); do
    case "$1" in
      -k|--keys) keys="$2"; shift 2 ;;
      -n) n="$2"; shift 2 ;;
      -P) pipeline="$2"; shift 2 ;;
      -r|--rounds) rounds="$2"; shift 2 ;;
      -s|--servers) servers="$2"; shift 2 ;;
      -o|--out) out="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; lib_die "unknown option: $1" ;;
    esac
  done
  for v in keys n pipeline rounds; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || lib_die "$v must be a positive integer (got '${!v}')"
  done
  IFS=, read -r -a server_list <<<"$servers"
  command -v redis-benchmark >/dev/null || lib_die "redis-benchmark not found (apt-get install redis-tools)"
}

# Creates the output directory (a temporary one named after $1 unless -o gave one, removed at exit),
# installs the cleanup trap and starts an empty results.tsv in it ($results).
lib_bench_workdir() {
  if [[ -z "$out" ]]; then out="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"; LIB_TMP_PATHS+=("$out"); fi
  mkdir -p "$out"
  trap lib_cleanup EXIT
  results="$out/results.tsv"
  : >"$results"
}

