#!/usr/bin/env bash
# Runs Redis 7.0.15's own Tcl test suite against our server, file by file, and counts the results;
# with --compare, against the real redis-server 7.0.15 too, and prints both side by side.
# The suite is third-party code: it is never downloaded or committed by this script. Point it at a
# Redis 7.0.15 source tree (tests/ and runtest) that you already have.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

default_units=(unit/type/string unit/type/incr unit/keyspace unit/expire unit/auth unit/acl unit/info
  unit/protocol unit/bitops unit/scan unit/introspection unit/querybuf unit/limits unit/latency-monitor
  unit/slowlog unit/pause)

usage() {
  cat <<EOF
usage: scripts/tcl-suite.sh [options] [REDIS_SRC] [unit/file ...]

REDIS_SRC is a Redis 7.0.15 source tree holding runtest and tests/ (or set REDIS_SRC, or --src).
The suite is copied to a temporary directory for each run, so the tree itself is never written to.

Each unit file runs alone against a freshly started server, with the flags that compare a server
with different internals fairly:
  --durable --ignore-encoding --ignore-digest --tags -needs:debug --tags -needs:pfdebug
  --tags -needs:repl --tags -needs:local-process --timeout <per-test timeout>
and "[ok]", "[err]" and "[exception]" lines are counted per file.

Files default to: ${default_units[*]}

modes:
  external (default)  start our server on a free loopback port and run the file with --host/--port
                      (the suite skips tests tagged external:skip)
  spawn               the suite starts its own servers: a temporary copy of the tests whose
                      src/redis-server is a wrapper that execs our launcher
  auto                external, then spawn for files that ran no test externally (auth, acl, info...)

options:
  --src DIR           the Redis 7.0.15 source tree (default: \$REDIS_SRC)
  --mode M            external | spawn | auto (default external)
  --spawn             same as --mode spawn
  --compare           also run every file against the real redis-server, started the same way
  --timeout S         the suite's per-test timeout, seconds without progress (default 120)
  --file-timeout S    wall-clock limit for one file; the file's whole process group is killed
                      past it (default 900)
  --real-server PATH  the real redis-server for --compare (default: redis-server on PATH)
  --redoubt PATH      our launcher (default: ./redoubt of this checkout)
  --out DIR           where logs go (default: a new directory under \${TMPDIR:-/tmp}, kept)
  --failures N        failing test names to list per file and server (default 10; 0: none)
  --runtest-arg A     pass A on to runtest (repeatable), e.g. --runtest-arg --skiptest
                      --runtest-arg '/functions' to leave out tests that need a missing feature
  -h, --help          this text

Exit status: 0 when every file ran to its end (whatever it counted), 1 when a file timed out,
was killed, or a server died; 2 on bad usage.
EOF
}

src="${REDIS_SRC:-}" mode=external compare=0 per_test_timeout=120 file_timeout=900
real_server="redis-server" out="" max_failures=10 units=() extra_runtest_args=()
export REDOUBT="${REDOUBT:-$root/redoubt}"
while (($#)); do
  case "$1" in
    --src) src="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    --spawn) mode=spawn; shift ;;
    --compare) compare=1; shift ;;
    --timeout) per_test_timeout="$2"; shift 2 ;;
    --file-timeout) file_timeout="$2"; shift 2 ;;
    --real-server) real_server="$2"; shift 2 ;;
    --redoubt) REDOUBT="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --failures) max_failures="$2"; shift 2 ;;
    --runtest-arg) extra_runtest_args+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; echo "error: unknown option: $1" >&2; exit 2 ;;
    *)
      if ((${#units[@]} == 0)) && [[ -d "$1" && -e "$1/runtest" ]]; then src="$1"; else units+=("$1"); fi
      shift ;;
  esac
done
bad_usage() { echo "error: $*" >&2; echo "(scripts/tcl-suite.sh --help for usage)" >&2; exit 2; }
[[ -n "$src" ]] || bad_usage "no Redis source tree: pass it as an argument, with --src, or in REDIS_SRC"
[[ -f "$src/runtest" && -f "$src/tests/test_helper.tcl" ]] || bad_usage "$src does not hold runtest and tests/test_helper.tcl"
src="$(cd "$src" && pwd)"
[[ "$mode" =~ ^(external|spawn|auto)$ ]] || bad_usage "--mode must be external, spawn or auto"
for v in per_test_timeout file_timeout max_failures; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || bad_usage "$v must be a whole number"
done
((${#units[@]})) || units=("${default_units[@]}")
# Accept unit/x, unit/x.tcl and tests/unit/x.tcl alike.
for i in "${!units[@]}"; do
  u="${units[i]#tests/}"; u="${u%.tcl}"; units[i]="$u"
  [[ -f "$src/tests/$u.tcl" ]] || bad_usage "no such unit file: $src/tests/$u.tcl"
done
command -v tclsh8.6 >/dev/null || command -v tclsh8.5 >/dev/null || command -v tclsh8.7 >/dev/null ||
  bad_usage "the suite needs tclsh 8.5+ (apt-get install tcl)"
for cmd in redis-cli ss timeout setsid; do command -v "$cmd" >/dev/null || bad_usage "$cmd not found"; done
if ((compare)); then
  real_server="$(command -v "$real_server")" || bad_usage "real redis-server not found"
  "$real_server" --version | grep -q 'v=7\.0\.15' ||
    lib_log "warning: $real_server is not 7.0.15: $("$real_server" --version)"
fi
export REDIS_SERVER="$real_server"
if [[ -f "$src/src/version.h" ]] && ! grep -q '"7\.0\.15"' "$src/src/version.h"; then
  lib_log "warning: $src/src/version.h is not 7.0.15"
fi

[[ -n "$out" ]] || out="$(mktemp -d "${TMPDIR:-/tmp}/redoubt-tcl-suite.$(date +%Y%m%d-%H%M%S).XXXX")"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# Process groups of running suites: on exit or interrupt each is killed whole, so a test client or
# a spawned server cannot outlive this script.
GROUPS_RUNNING=()
cleanup() {
  local g
  for g in "${GROUPS_RUNNING[@]}"; do
    kill -TERM -- "-$g" 2>/dev/null || true
  done
  ((${#GROUPS_RUNNING[@]})) && sleep 1
  for g in "${GROUPS_RUNNING[@]}"; do
    kill -KILL -- "-$g" 2>/dev/null || true
  done
  lib_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$REDOUBT" --version >/dev/null || lib_die "our launcher failed to build"

# A private copy of the suite per target, so runs never share tests/tmp and the source tree stays
# untouched. In spawn mode its src/redis-server execs the target; the other tools the suite calls
# are the real ones when installed.
make_copy() {
  local target="$1" dir="$out/suite-$1"
  rm -rf "$dir"
  mkdir -p "$dir/src"
  cp -r "$src/tests" "$src/runtest" "$dir/"
  [[ -f "$src/redis.conf" ]] && cp "$src/redis.conf" "$dir/"
  local exe
  if [[ "$target" == ours ]]; then exe="$REDOUBT server"; else exe="$real_server"; fi
  printf '#!/bin/sh\n# Written by scripts/tcl-suite.sh: the suite starts this as its redis-server.\nexec %s "$@"\n' "$exe" >"$dir/src/redis-server"
  chmod +x "$dir/src/redis-server"
  local tool
  for tool in redis-cli redis-benchmark redis-check-aof redis-check-rdb redis-sentinel; do
    if command -v "$tool" >/dev/null; then ln -sf "$(command -v "$tool")" "$dir/src/$tool"; fi
  done
  # Our own AOF checker stands in for redis-check-aof when the suite runs against us.
  if [[ "$target" == ours ]]; then
    rm -f "$dir/src/redis-check-aof"
    printf '#!/bin/sh\nexec %s check-aof "$@"\n' "$REDOUBT" >"$dir/src/redis-check-aof"
    chmod +x "$dir/src/redis-check-aof"
  fi
  echo "$dir"
}

fair_flags=(--durable --ignore-encoding --ignore-digest --tags -needs:debug --tags -needs:pfdebug
  --tags -needs:repl --tags -needs:local-process --timeout "$per_test_timeout")

# The offending line of a fatal config error reported by a server this file spawned, if any.
spawn_fatal() {
  find "$1/tests/tmp" -newer "$out/.file-start" \( -name stdout -o -name stderr \) \
    -exec grep -h -A2 'FATAL CONFIG FILE ERROR' {} + 2>/dev/null | grep -m1 '^>>> ' || true
}

# Runs one unit file against one target in one mode. Writes the suite's output to $log and sets
# R_OK R_ERR R_EXC R_NOTE R_FAIL (1 when the run did not come to its end).
run_file() {
  local target="$1" unit="$2" how="$3" log="$4" dir="${suite_dir[$1]}" args rc=0 spid="" sport=""
  R_NOTE="" R_FAIL=0
  args=(--single "$unit" "${fair_flags[@]}" ${extra_runtest_args[@]+"${extra_runtest_args[@]}"})
  if [[ "$how" == external ]]; then
    if ! lib_start_server "$(lib_kind "$target")" "$out/servers"; then
      R_OK=0 R_ERR=0 R_EXC=0 R_NOTE="server did not start" R_FAIL=1
      return
    fi
    spid=$LIB_PID sport=$LIB_PORT
    args+=(--host 127.0.0.1 --port "$sport")
  fi
  # The suite's own test-server port (just below --baseport) and, in spawn mode, its servers' ports
  # (from --baseport up, plus 10000 for bus ports) come from a random free base: the default one is
  # shared with everyone else running the suite on this machine.
  local base
  base="$(LIB_PORT_LO=12100 LIB_PORT_HI=19400 lib_free_port)"
  args+=(--baseport "$base")
  if [[ "$how" == spawn ]]; then
    # --dont-clean keeps the spawned servers' logs (tests/tmp of the copy) for diagnosis.
    args+=(--portcount 500 --clients 1 --dont-clean)
    touch "$out/.file-start"
  fi
  # setsid + timeout: the suite and everything it starts share one process group that can be
  # killed whole; TERM=dumb keeps colour codes out of the log.
  ( cd "$dir" && TERM=dumb exec setsid -w timeout -k 20 "$file_timeout" ./runtest "${args[@]}" ) >"$log" 2>&1 </dev/null &
  local gpid=$!
  GROUPS_RUNNING+=("$gpid")
  # Wait for the file, watching for the one hang the suite cannot see: in spawn mode, a server that
  # refused its config makes the suite wait two minutes per start. When the log has not moved for
  # 15 s and a spawned server reported a fatal config error, the file is stopped early.
  local last_size=-1 last_change=$SECONDS size early=0
  while lib_alive "$gpid"; do
    sleep 1 & wait $! || true
    [[ "$how" == spawn ]] || continue
    size="$(stat -c %s "$log" 2>/dev/null || echo 0)"
    if [[ "$size" != "$last_size" ]]; then
      last_size=$size last_change=$SECONDS
    elif ((SECONDS - last_change >= 15)) && [[ -n "$(spawn_fatal "$dir")" ]]; then
      early=1
      kill -TERM -- "-$gpid" 2>/dev/null || true
      break
    fi
  done
  wait "$gpid" || rc=$?
  # Anything of that group still alive (a test client, a spawned server) goes now.
  kill -KILL -- "-$gpid" 2>/dev/null || true
  GROUPS_RUNNING=()
  R_OK="$(grep -c '^\[ok\]:' "$log" || true)"
  R_ERR="$(grep -c '^\[err\]:' "$log" || true)"
  R_EXC="$(grep -c '^\[exception\]:' "$log" || true)"
  local notes=()
  if ((early)); then R_FAIL=1
  elif ((rc == 124 || rc == 137)); then notes+=("killed after ${file_timeout}s"); R_FAIL=1; fi
  if grep -q '^\[TIMEOUT\]' "$log"; then notes+=("test timeout"); R_FAIL=1; fi
  if ((R_EXC)); then notes+=("aborted by exception"); fi
  if [[ -n "$spid" ]]; then
    if ! kill -0 "$spid" 2>/dev/null; then
      notes+=("server died"); R_FAIL=1
    fi
    lib_stop_pid "$spid" 10
    lib_forget_pid "$spid"
  fi
  if ((!early && rc != 0 && rc != 124 && rc != 137 && R_ERR == 0 && R_EXC == 0)) && ! grep -q '^\[TIMEOUT\]' "$log"; then
    notes+=("runtest exit $rc"); R_FAIL=1
  fi
  if ((R_OK + R_ERR + R_EXC == 0 && rc == 0)); then notes+=("no test ran"); fi
  if [[ "$how" == spawn ]]; then
    # A spawned server that refused its config leaves the suite waiting: name the directive.
    local fatal
    fatal="$(spawn_fatal "$dir")"
    ((early)) && notes+=("stopped early")
    [[ -n "$fatal" ]] && notes+=("spawned server rejected config ${fatal#>>> }")
  fi
  local n
  for n in "${notes[@]}"; do R_NOTE="${R_NOTE:+$R_NOTE; }$n"; done
}

targets=(ours)
((compare)) && targets+=(real)
declare -A suite_dir
mkdir -p "$out/servers" "$out/logs"
for t in "${targets[@]}"; do suite_dir[$t]="$(make_copy "$t")"; done
# lib_start_server knows the real server as "redis".
lib_kind() { [[ "$1" == real ]] && echo redis || echo ours; }

declare -A res
any_fail=0
start_all=$SECONDS
run_and_record() {
  local unit="$1" t="$2" how="$3" log t0=$SECONDS
  log="$out/logs/${unit//\//_}.$t.$how.log"
  lib_log "$unit: $t ($how)"
  local attempt
  for attempt in 1 2 3; do
    run_file "$t" "$unit" "$how" "$log"
    # Someone else bound the suite's test-server port between its check and its bind: try again.
    ((R_OK + R_ERR + R_EXC == 0)) && grep -q "couldn't open socket: address already in use" "$log" || break
    lib_log "$unit: $t ($how): the suite's port was taken, retrying"
  done
  lib_log "$unit: $t ($how): ok $R_OK, err $R_ERR, exception $R_EXC${R_NOTE:+, $R_NOTE} ($((SECONDS - t0))s)"
  res[$unit,$t]="$R_OK|$R_ERR|$R_EXC|$R_NOTE|$how|$log"
  ((R_FAIL)) && any_fail=1
  return 0
}
for unit in "${units[@]}"; do
  for t in "${targets[@]}"; do
    case "$mode" in
      external) run_and_record "$unit" "$t" external ;;
      spawn) run_and_record "$unit" "$t" spawn ;;
      auto)
        run_and_record "$unit" "$t" external
        # Files with nothing runnable externally (auth, acl, info...) go on in spawn mode.
        [[ "$R_NOTE" == "no test ran" ]] && run_and_record "$unit" "$t" spawn ;;
    esac
  done
done

echo
echo "Redis 7.0.15 Tcl suite, $(date -u +%Y-%m-%d), mode $mode, per-test timeout ${per_test_timeout}s, $((SECONDS - start_all))s in all."
echo
if ((compare)); then
  echo "| file | mode | ours ok | ours err | ours exc | real ok | real err | real exc | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
else
  echo "| file | mode | ok | err | exc | notes |"
  echo "|---|---|---:|---:|---:|---|"
fi
declare -A tot
for unit in "${units[@]}"; do
  IFS='|' read -r ok err exc note how _ <<<"${res[$unit,ours]}"
  tot[ours_ok]=$((${tot[ours_ok]:-0} + ok)) tot[ours_err]=$((${tot[ours_err]:-0} + err)) tot[ours_exc]=$((${tot[ours_exc]:-0} + exc))
  if ((compare)); then
    IFS='|' read -r rok rerr rexc rnote rhow _ <<<"${res[$unit,real]}"
    tot[real_ok]=$((${tot[real_ok]:-0} + rok)) tot[real_err]=$((${tot[real_err]:-0} + rerr)) tot[real_exc]=$((${tot[real_exc]:-0} + rexc))
    notes=""
    [[ -n "$note" ]] && notes="ours: $note"
    [[ -n "$rnote" ]] && notes="${notes:+$notes; }real: $rnote"
    m="$how"; [[ "$rhow" != "$how" ]] && m="$how/$rhow"
    echo "| $unit | $m | $ok | $err | $exc | $rok | $rerr | $rexc | $notes |"
  else
    echo "| $unit | $how | $ok | $err | $exc | $note |"
  fi
done
if ((compare)); then
  echo "| **total** | | ${tot[ours_ok]} | ${tot[ours_err]} | ${tot[ours_exc]} | ${tot[real_ok]} | ${tot[real_err]} | ${tot[real_exc]} | |"
else
  echo "| **total** | | ${tot[ours_ok]} | ${tot[ours_err]} | ${tot[ours_exc]} | |"
fi

if ((max_failures > 0)); then
  for t in "${targets[@]}"; do
    printed=0
    for unit in "${units[@]}"; do
      IFS='|' read -r ok err exc note how log <<<"${res[$unit,$t]}"
      ((err + exc)) || continue
      ((printed)) || { echo; echo "Failures ($t), at most $max_failures per file:"; printed=1; }
      echo
      echo "$unit:"
      grep -E '^\[(err|exception)\]:' "$log" | head -n "$max_failures" | sed 's/^/    /'
      grep -A3 '^\[exception\]:' "$log" | grep -v '^\[exception\]:' | head -n 3 | sed 's/^/      /' || true
    done
  done
fi
echo
echo "Logs: $out/logs"
exit "$any_fail"
