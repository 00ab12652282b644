#!/usr/bin/env bash
# Persistence side by side: our server and redis-server 7.0.15 in one run, interleaved rounds.
# Measures (1) SAVE and start-up load speed of an RDB of K keys of mixed types (MB/s of the file),
# (2) SET throughput with appendonly yes / appendfsync everysec, and (3) SET throughput while
# BGSAVE runs back to back, against the same server without it just before and after (the issue's >= 80% target).
# Prints a Markdown table with medians and ratios.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF2
usage: bench/persistence.sh [options]

options:
  -k, --keys K      keys in the dataset: 80% strings (DEBUG POPULATE), 5% each of hashes, lists,
                    sets and sorted sets of 8 elements (default 1000000)
  -n N              SET requests per throughput run (default 2000000)
  -P P              pipeline depth of the throughput runs (default 16)
  -r, --rounds R    interleaved repetitions (default 3)
  -s, --servers L   comma-separated subset of ours,redis (default both)
  -o, --out DIR     keep logs in DIR (default: a temporary directory, removed)
  -h, --help        this text
EOF2
}

# Long enough runs that several BGSAVEs of the 1M keys fall inside the measured one.
default_requests=2000000
lib_parse_bench_options "$@"
lib_bench_workdir redoubt-persist-bench

# The collections, generated once as a redis-cli --pipe input.
collections="$out/collections.resp"
each=$((keys / 20))
python3 - "$each" >"$collections" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    out.write(b"".join(parts))
for k in range(n):
    cmd("HSET", f"hash:{k}", *[x for j in range(8) for x in (f"field{j}", f"value{j * k}")])
    cmd("RPUSH", f"list:{k}", *[f"element{j}" for j in range(8)])
    cmd("SADD", f"set:{k}", *[f"member{j * 7}" for j in range(8)])
    cmd("ZADD", f"zset:{k}", *[x for j in range(8) for x in (j * 1.5, f"m{j}")])
PY

start() {
  local kind="$1" dir="$2"; shift 2
  LIB_WORKDIR="$dir"
  LIB_EXTRA_ARGS=(--enable-debug-command yes --dbfilename dump.rdb "$@")
  lib_start_server "$kind" "$out" || lib_die "$kind did not start"
  PORT=$LIB_PORT PID=$LIB_PID LOG=$LIB_LOG
  LIB_EXTRA_ARGS=()
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$round" "$2" "$3" >>"$results"; lib_log "round $round $1 $2: $3"; }

for ((round = 1; round <= rounds; round++)); do
  for kind in "${server_list[@]}"; do
    dir="$(mktemp -d "$out/$kind-dir.XXXXXX")"
    # (1) SAVE and load of the mixed dataset.
    start "$kind" "$dir" --save ''
    redis-cli -p "$PORT" debug populate $((keys - 4 * each)) key 10 >/dev/null
    redis-cli -p "$PORT" --pipe <"$collections" >/dev/null
    t0=$(now); redis-cli -p "$PORT" save >/dev/null; t1=$(now)
    size=$(stat -c %s "$dir/dump.rdb")
    save_s=$(elapsed "$t0" "$t1")
    record "$kind" save_mbs "$(awk -v s="$size" -v t="$save_s" 'BEGIN { printf "%.1f", s / 1048576 / t }')"
    record "$kind" rdb_mb "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')"
    lib_stop_servers
    start "$kind" "$dir" --save ''
    load_s=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$LOG" | tail -1)
    [[ -n "$load_s" ]] && record "$kind" load_mbs "$(awk -v s="$size" -v t="$load_s" 'BEGIN { if (t > 0) printf "%.1f", s / 1048576 / t; else print "n/a" }')"

    # (3) SET throughput alone, then with BGSAVE started again whenever the previous one ended.
    redis-benchmark -h 127.0.0.1 -p "$PORT" -t set -n $((n / 5)) -P "$pipeline" -c 50 -r 100000 -d 10 -q >/dev/null 2>&1 || true
    record "$kind" set_plain "$(lib_bench_set "$PORT" "$n" "$pipeline")"
    # One connection polls every 50 ms: starting redis-cli twice per poll would itself take a fifth
    # of a core on this 2-core machine and cut the throughput being measured.
    python3 - "$PORT" "$out/bgsaves-$kind-$round" <<'PY' &
import socket, sys, time
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
reader = sock.makefile("rb")
def call(command):
    sock.sendall(command + b"\r\n")
    line = reader.readline()
    if line.startswith(b"$"):
        return reader.read(int(line[1:]) + 2)
    return line
started = 0
while True:
    if b"rdb_bgsave_in_progress:0" in call(b"INFO persistence"):
        call(b"BGSAVE")
        started += 1
        with open(sys.argv[2], "w") as f:
            f.write(f"{started}\n")
    time.sleep(0.05)
PY
    saver=$!
    during=$(lib_bench_set "$PORT" "$n" "$pipeline")
    record "$kind" set_bgsave "$during"
    kill "$saver" 2>/dev/null; wait "$saver" 2>/dev/null || true
    record "$kind" bgsaves "$(cat "$out/bgsaves-$kind-$round" 2>/dev/null || echo 0)"
    # Throughput drifts on a shared machine: the run during BGSAVEs is compared with the mean of the
    # plain runs just before and just after it (once the last BGSAVE has ended).
    while redis-cli -p "$PORT" info persistence | grep -q '^rdb_bgsave_in_progress:1'; do sleep 0.1; done
    after=$(lib_bench_set "$PORT" "$n" "$pipeline")
    before=$(awk -F'\t' -v k="$kind" -v r="$round" '$1 == k && $2 == r && $3 == "set_plain" {print $4}' "$results")
    record "$kind" bgsave_pct "$(awk -v d="$during" -v b="$before" -v a="$after" 'BEGIN { if (a + b > 0) printf "%.1f", 200 * d / (a + b); else print "n/a" }')"
    lib_stop_servers

    # (2) AOF everysec.
    adir="$(mktemp -d "$out/$kind-aof.XXXXXX")"
    start "$kind" "$adir" --save '' --appendonly yes --appendfsync everysec
    redis-benchmark -h 127.0.0.1 -p "$PORT" -t set -n $((n / 5)) -P "$pipeline" -c 50 -r 100000 -d 10 -q >/dev/null 2>&1 || true
    record "$kind" set_aof "$(lib_bench_set "$PORT" "$n" "$pipeline")"
    lib_stop_servers
    rm -rf "$dir" "$adir"
  done
done

median_of() { awk -F'\t' -v k="$1" -v m="$2" '$1 == k && $3 == m {print $4}' "$results" | lib_median; }

echo
echo "Persistence: $(date +%F), $(nproc) cores, $keys keys (80% strings, 5% each hashes/lists/sets/zsets of 8), SET -P $pipeline -c 50 -n $n, median of $rounds interleaved rounds."
echo
echo "| measure | ours | redis | ours/redis |"
echo "|---|---:|---:|---:|"
for metric in rdb_mb save_mbs load_mbs set_aof set_plain set_bgsave; do
  o=$(median_of ours "$metric"); r=$(median_of redis "$metric")
  case "$metric" in
    rdb_mb) label="RDB size (MB)" ;;
    save_mbs) label="SAVE (MB/s of RDB written)" ;;
    load_mbs) label="load at start-up (MB/s of RDB read)" ;;
    set_aof) label="SET req/s, appendonly everysec" ;;
    set_plain) label="SET req/s, no persistence" ;;
    set_bgsave) label="SET req/s, BGSAVE back to back" ;;
  esac
  lib_ratio_row "$label" "$o" "$r"
done
for kind in "${server_list[@]}"; do
  pct=$(median_of "$kind" bgsave_pct)
  rounds_pct=$(awk -F'\t' -v k="$kind" '$1 == k && $3 == "bgsave_pct" {printf "%s%s", sep, $4; sep = ", "}' "$results")
  [[ "$pct" =~ ^[0-9.]+$ ]] && echo && echo "$kind: throughput during BGSAVE is $(printf '%.0f' "$pct")% of throughput without it (median of rounds: ${rounds_pct}%, each against the mean of the plain runs just before and after; median $(median_of "$kind" bgsaves) BGSAVEs per run)."
done
