#!/usr/bin/env bash
# Side-by-side throughput: our server, redis-server 7.0.15 and Garnet, measured with redis-benchmark
# in one run on this machine, with interleaved rounds so that noise from other load hits all servers
# alike. Prints a Markdown table (median requests/sec, ratios, server CPU seconds per million requests).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF
usage: bench/throughput.sh [options]

Starts each server fresh on a free loopback port (no persistence), pre-loads the 1M keys that GET
reads, then runs redis-benchmark for every test x pipeline x server, round after round
(ours, redis, garnet, ours, redis, garnet, ...), and prints medians.

options:
  -n N              requests per run without pipelining (default 200000)
  -N N              requests per pipelined run (default 1000000)
  -r, --rounds R    interleaved repetitions (default 3)
  -s, --servers L   comma-separated subset of ours,redis,garnet (default all three)
  -c, --clients C   parallel connections (default 50)
  -k, --keyspace K  random keys over K (redis-benchmark -r; default 1000000)
  -d, --data-size B value size of SET (default 3, redis-benchmark's default)
  -P, --pipelines L comma-separated pipeline depths (default 1,16)
  -t, --tests L     comma-separated redis-benchmark tests (default set,get)
  --no-prefill      do not pre-load the keyspace (GET then mostly misses)
  -o, --out DIR     keep raw results and server logs in DIR (default: a temporary directory, removed)
  -h, --help        this text

environment: REDOUBT (our launcher, default ./redoubt of this checkout), REDIS_SERVER (default
redis-server), GARNET_DIR (where garnet-server is installed, default ~/.cache/redoubt-bench/garnet),
GARNET_VERSION (default 2.2.8).
EOF
}

n_plain=200000 n_piped=1000000 rounds=3 servers=ours,redis,garnet clients=50 keyspace=1000000
data_size=3 pipelines=1,16 tests=set,get prefill=1 out=""
while (($#)); do
  case "$1" in
    -n) n_plain="$2"; shift 2 ;;
    -N) n_piped="$2"; shift 2 ;;
    -r|--rounds) rounds="$2"; shift 2 ;;
    -s|--servers) servers="$2"; shift 2 ;;
    -c|--clients) clients="$2"; shift 2 ;;
    -k|--keyspace) keyspace="$2"; shift 2 ;;
    -d|--data-size) data_size="$2"; shift 2 ;;
    -P|--pipelines) pipelines="$2"; shift 2 ;;
    -t|--tests) tests="$2"; shift 2 ;;
    --no-prefill) prefill=0; shift ;;
    -o|--out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; echo >&2; lib_die "unknown option: $1" ;;
  esac
done
for v in n_plain n_piped rounds clients keyspace data_size; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || lib_die "$v must be a positive integer (got '${!v}')"
done
IFS=, read -r -a server_list <<<"$servers"
IFS=, read -r -a pipe_list <<<"$pipelines"
IFS=, read -r -a test_list <<<"$tests"
for s in "${server_list[@]}"; do [[ "$s" =~ ^(ours|redis|garnet)$ ]] || lib_die "unknown server '$s'"; done
for p in "${pipe_list[@]}"; do [[ "$p" =~ ^[1-9][0-9]*$ ]] || lib_die "bad pipeline depth '$p'"; done
for cmd in redis-benchmark redis-cli ss awk; do command -v "$cmd" >/dev/null || lib_die "$cmd not found (apt-get install redis-tools iproute2)"; done

if [[ -z "$out" ]]; then
  out="$(mktemp -d -t redoubt-throughput.XXXXXX)"
  LIB_TMP_PATHS+=("$out")
else
  mkdir -p "$out"
fi
trap lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Garnet is optional: when it cannot be installed, say why and measure the others.
if [[ ",$servers," == *,garnet,* ]]; then
  if LIB_GARNET="$(lib_garnet_bin)"; then :; else
    lib_log "garnet unavailable: continuing without it"
    keep=(); for s in "${server_list[@]}"; do [[ "$s" != garnet ]] && keep+=("$s"); done
    server_list=("${keep[@]}")
  fi
fi
((${#server_list[@]})) || lib_die "no server left to measure"

# Build ours before anything is timed (the launcher builds on first use).
if [[ " ${server_list[*]} " == *" ours "* ]]; then
  "${REDOUBT:-$LIB_ROOT/redoubt}" --version >/dev/null || lib_die "our launcher failed to build"
fi

# Pre-load keys exactly as redis-benchmark names them (key:%012d over the keyspace) with values of
# the benchmark's size, so that every GET hits, whichever test runs first.
prefill_server() {
  local port="$1" value
  value="$(head -c "$data_size" </dev/zero | tr '\0' x)"
  awk -v n="$keyspace" -v v="$value" 'BEGIN {
    vl = length(v)
    for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, vl, v
  }' | timeout 600 redis-cli -h 127.0.0.1 -p "$port" --pipe >"$out/prefill-$port.txt" 2>&1 ||
    { tail -n 5 "$out/prefill-$port.txt" >&2; return 1; }
  grep -q 'errors: 0,' "$out/prefill-$port.txt" || { tail -n 5 "$out/prefill-$port.txt" >&2; return 1; }
}

declare -A pid_of port_of
for s in "${server_list[@]}"; do
  lib_log "starting $s"
  lib_start_server "$s" "$out" || lib_die "$s did not start"
  pid_of[$s]=$LIB_PID port_of[$s]=$LIB_PORT
  lib_log "$s: pid $LIB_PID, port $LIB_PORT"
  if ((prefill)); then
    lib_log "$s: pre-loading $keyspace keys"
    prefill_server "$LIB_PORT" || lib_die "$s: pre-load failed"
  fi
done

tck="$(lib_clk_tck)"
results="$out/results.tsv"
printf 'round\tserver\ttest\tpipeline\trequests\trps\tp50_ms\tcpu_s\tcpu_s_per_M\n' >"$results"

run_one() {
  local s="$1" t="$2" p="$3" round="$4" n csv before after rps p50 cpu
  n=$n_plain; ((p > 1)) && n=$n_piped
  kill -0 "${pid_of[$s]}" 2>/dev/null || lib_die "$s (pid ${pid_of[$s]}) died; see its log in $out"
  before="$(lib_cpu_ticks "${pid_of[$s]}")"
  # A hung server must not hang the script: allow ten times a slow 10k requests/sec pace.
  csv="$(timeout $((n / 10000 * 10 + 120)) redis-benchmark -h 127.0.0.1 -p "${port_of[$s]}" \
    -c "$clients" -n "$n" -r "$keyspace" -d "$data_size" -P "$p" -t "$t" --csv 2>"$out/bench-err.txt")" ||
    { cat "$out/bench-err.txt" >&2; lib_die "redis-benchmark failed against $s ($t -P $p)"; }
  after="$(lib_cpu_ticks "${pid_of[$s]}")"
  # The CSV's last line: "TEST","rps","avg","min","p50",... (LRANGE_* tests first print the LPUSH
  # that fills their list; the test asked for is the last row).
  rps="$(awk -F'"' 'NR > 1 { v = $4 } END { print v }' <<<"$csv")"
  p50="$(awk -F'"' 'NR > 1 { v = $10 } END { print v }' <<<"$csv")"
  [[ "$rps" =~ ^[0-9.]+$ ]] || lib_die "no result from redis-benchmark against $s: $csv"
  cpu="$(awk -v d=$((after - before)) -v t="$tck" 'BEGIN { printf "%.2f", d / t }')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$s" "$t" "$p" "$n" "$rps" "$p50" "$cpu" \
    "$(awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.2f", c / n * 1e6 }')" >>"$results"
  lib_log "round $round  $s  $t -P $p: $rps req/s, p50 $p50 ms, cpu ${cpu}s"
}

for ((round = 1; round <= rounds; round++)); do
  for t in "${test_list[@]}"; do
    for p in "${pipe_list[@]}"; do
      for s in "${server_list[@]}"; do run_one "$s" "$t" "$p" "$round"; done
    done
  done
done

# Median over rounds of column $4 for server $1, test $2, pipeline $3.
med() { awk -F'\t' -v s="$1" -v t="$2" -v p="$3" -v c="$4" 'NR > 1 && $2 == s && $3 == t && $4 == p { print $c }' "$results" | lib_median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt_int() { [[ "$1" == n/a ]] && echo n/a || printf '%.0f' "$1"; }

has() { [[ " ${server_list[*]} " == *" $1 "* ]]; }
echo
echo "Throughput: $(date -u +%Y-%m-%d), $(nproc) cores, redis-benchmark -c $clients -r $keyspace -d $data_size," \
  "-n $n_plain (-P 1) / $n_piped (pipelined), median of $rounds interleaved rounds."
echo
header="| test | -P |"; sep="|---|---|"
for s in "${server_list[@]}"; do header+=" $s req/s |"; sep+="---:|"; done
has ours && has redis && { header+=" ours/redis |"; sep+="---:|"; }
has ours && has garnet && { header+=" ours/garnet |"; sep+="---:|"; }
for s in "${server_list[@]}"; do header+=" $s CPU s/M req |"; sep+="---:|"; done
echo "$header"; echo "$sep"
for t in "${test_list[@]}"; do
  for p in "${pipe_list[@]}"; do
    row="| ${t^^} | $p |"
    declare -A m=()
    for s in "${server_list[@]}"; do m[$s]="$(med "$s" "$t" "$p" 6)"; row+=" $(fmt_int "${m[$s]}") |"; done
    has ours && has redis && row+=" $(ratio "${m[ours]}" "${m[redis]}") |"
    has ours && has garnet && row+=" $(ratio "${m[ours]}" "${m[garnet]}") |"
    for s in "${server_list[@]}"; do row+=" $(med "$s" "$t" "$p" 9) |"; done
    echo "$row"
    unset m
  done
done
echo
echo "Raw per-run results: $results$([[ " ${LIB_TMP_PATHS[*]} " == *" $out "* ]] && echo ' (temporary; use --out DIR to keep)')"
