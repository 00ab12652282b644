#!/usr/bin/env bash
# Scripting throughput, ours vs redis-server 7.0.15 in interleaved rounds: EVALSHA of a script that
# does one SET, EVALSHA of a read-only script, FCALL of a function doing one INCR, and EVAL with the
# body sent each time (compiled once, then found by its SHA1). 50 clients, -P 1 and -P 16.
#
#   bench/scripting.sh            3 rounds of each
#   bench/scripting.sh -r 5 -n 200000
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
source "$here/lib.sh"

rounds=3 requests=100000
while [[ $# -gt 0 ]]; do
  case "$1" in
    -r) rounds="$2"; shift 2 ;;
    -n) requests="$2"; shift 2 ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) lib_die "unknown option $1" ;;
  esac
done

work="$(mktemp -d)"
LIB_TMP_PATHS+=("$work")
trap lib_cleanup EXIT

set_script="return redis.call('set', KEYS[1], ARGV[1])"
get_script="return redis.call('get', KEYS[1])"
library=$'#!lua name=benchlib\nredis.register_function(\'bump\', function(keys) return redis.call(\'incr\', keys[1]) end)'

# Requests per second of one redis-benchmark run of the given command at pipeline $2 on port $1.
run_bench() {
  local port="$1" pipeline="$2"; shift 2
  redis-benchmark -h 127.0.0.1 -p "$port" -n "$requests" -c 50 -P "$pipeline" -r 100000 -q "$@" 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i == "requests") print $(i-1)}' | tail -1
}

declare -A results
tests=(evalsha_set evalsha_get fcall_incr eval_set)
for round in $(seq 1 "$rounds"); do
  for kind in ours redis; do
    lib_start_server "$kind" "$work" || lib_die "$kind did not start"
    port="$LIB_PORT"
    set_sha="$(redis-cli -p "$port" script load "$set_script")"
    get_sha="$(redis-cli -p "$port" script load "$get_script")"
    redis-cli -p "$port" function load replace "$library" >/dev/null
    for p in 1 16; do
      results[$kind,evalsha_set,$p]+="$(run_bench "$port" "$p" evalsha "$set_sha" 1 key:__rand_int__ value)"$'\n'
      results[$kind,evalsha_get,$p]+="$(run_bench "$port" "$p" evalsha "$get_sha" 1 key:__rand_int__)"$'\n'
      results[$kind,fcall_incr,$p]+="$(run_bench "$port" "$p" fcall bump 1 counter:__rand_int__)"$'\n'
      results[$kind,eval_set,$p]+="$(run_bench "$port" "$p" eval "$set_script" 1 key:__rand_int__ value)"$'\n'
    done
    lib_log "round $round: $kind done"
    lib_stop_servers
  done
done

echo "| test | ours req/s | redis req/s | ours/redis |"
echo "|---|---:|---:|---:|"
for t in "${tests[@]}"; do
  for p in 1 16; do
    o="$(printf '%s' "${results[ours,$t,$p]}" | lib_median)"
    r="$(printf '%s' "${results[redis,$t,$p]}" | lib_median)"
    lib_ratio_row "$t -P $p" "$o" "$r"
  done
done
