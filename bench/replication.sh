#!/usr/bin/env bash
# Replication side by side: our server and redis-server 7.0.15, each replicating to its own kind, in
# one run with interleaved rounds. Measures (1) the time a replica takes to full-sync K keys from the
# moment it is told REPLICAOF until its link is up, (2) SET throughput on a master with 0, 1 and 2
# replicas attached, and (3) replication lag (master offset minus replica offset, in bytes) sampled
# every 100 ms while redis-benchmark writes. Prints a Markdown table with medians and ratios.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF2
usage: bench/replication.sh [options]

options:
  -k, --keys K      keys loaded before the full sync (DEBUG POPULATE, 10-byte values; default 1000000)
  -n N              SET requests per throughput run (default 500000)
  -P P              pipeline depth of the throughput runs (default 16)
  -r, --rounds R    interleaved repetitions (default 3)
  -s, --servers L   comma-separated subset of ours,redis (default both)
  -o, --out DIR     keep logs in DIR (default: a temporary directory, removed)
  -h, --help        this text
EOF2
}

lib_parse_bench_options "$@"
lib_bench_workdir redoubt-repl-bench

info_field() { redis-cli -p "$1" info replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

# Starts a server of kind $1 in a fresh directory with extra arguments; sets PORT and PID.
start() {
  local kind="$1"; shift
  LIB_WORKDIR="$(mktemp -d "$out/$kind-dir.XXXXXX")"
  LIB_EXTRA_ARGS=(--enable-debug-command yes --repl-diskless-sync-delay 0 "$@")
  lib_start_server "$kind" "$out" || lib_die "$kind did not start"
  PORT=$LIB_PORT PID=$LIB_PID
  LIB_EXTRA_ARGS=()
}

wait_link_up() {
  local port="$1" limit=$((SECONDS + 600))
  until [[ "$(info_field "$port" master_link_status)" == up ]]; do
    ((SECONDS < limit)) || lib_die "replica on $port never got its link up"
    sleep 0.02
  done
}

for ((round = 1; round <= rounds; round++)); do
  for kind in "${server_list[@]}"; do
    # (1) full sync of $keys keys.
    start "$kind"; mport=$PORT
    redis-cli -p "$mport" debug populate "$keys" key 10 >/dev/null
    start "$kind"; rport=$PORT
    t0=$(date +%s.%N)
    redis-cli -p "$rport" replicaof 127.0.0.1 "$mport" >/dev/null
    wait_link_up "$rport"
    t1=$(date +%s.%N)
    sync_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    lib_log "round $round $kind full sync of $keys keys: ${sync_s}s"
    printf '%s\t%s\tsync_s\t%s\n' "$kind" "$round" "$sync_s" >>"$results"
    lib_stop_servers

    # (2) SET throughput with 0, 1 and 2 replicas, and (3) lag with 1 replica.
    start "$kind"; mport=$PORT
    # A warm-up run: the first requests of a fresh process (JIT for ours) are not what is measured.
    redis-benchmark -h 127.0.0.1 -p "$mport" -t set -n $((n / 5)) -P "$pipeline" -c 50 -r 100000 -d 10 -q >/dev/null 2>&1 || true
    for replicas in 0 1 2; do
      if ((replicas > 0)); then
        start "$kind" --replicaof 127.0.0.1 "$mport"; rp=$PORT
        wait_link_up "$rp"
        [[ $replicas == 1 ]] && first_replica=$rp
      fi
      if ((replicas == 1)); then
        # Sample the lag while the benchmark runs.
        lagfile="$out/lag-$kind-$round.txt"; : >"$lagfile"
        ( while true; do
            # The replica is read first, so the difference is an upper bound of the lag at that moment.
            r=$(info_field "$first_replica" slave_repl_offset); m=$(info_field "$mport" master_repl_offset)
            [[ -n "$m" && -n "$r" ]] && echo $((m - r)) >>"$lagfile"
            sleep 0.1
          done ) &
        sampler=$!
      fi
      rps=$(lib_bench_set "$mport" "$n" "$pipeline")
      if ((replicas == 1)); then
        kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
        max_lag=$(sort -n "$lagfile" | tail -1); avg_lag=$(awk '{s += $1} END {if (NR) printf "%.0f", s / NR; else print 0}' "$lagfile")
        printf '%s\t%s\tlag_max\t%s\n%s\t%s\tlag_avg\t%s\n' "$kind" "$round" "${max_lag:-0}" "$kind" "$round" "$avg_lag" >>"$results"
        lib_log "round $round $kind lag with 1 replica: max ${max_lag:-0} B, mean $avg_lag B"
      fi
      lib_log "round $round $kind SET -P $pipeline with $replicas replicas: $rps req/s"
      printf '%s\t%s\tset_%s\t%s\n' "$kind" "$round" "$replicas" "$rps" >>"$results"
    done
    lib_stop_servers
  done
done

median_of() { awk -F'\t' -v k="$1" -v m="$2" '$1 == k && $3 == m {print $4}' "$results" | lib_median; }

echo
echo "Replication: $(date +%F), $(nproc) cores, $keys keys for the full sync (10-byte values), SET -P $pipeline -c 50 -n $n, median of $rounds interleaved rounds."
echo
echo "| measure | ours | redis | ours/redis |"
echo "|---|---:|---:|---:|"
for metric in sync_s set_0 set_1 set_2 lag_avg lag_max; do
  o=$(median_of ours "$metric"); r=$(median_of redis "$metric")
  label=$metric
  case "$metric" in
    sync_s) label="full sync of $keys keys (s, lower is better)" ;;
    set_0) label="SET req/s, no replica" ;;
    set_1) label="SET req/s, 1 replica" ;;
    set_2) label="SET req/s, 2 replicas" ;;
    lag_avg) label="lag, mean bytes (lower is better)" ;;
    lag_max) label="lag, max bytes (lower is better)" ;;
  esac
  lib_ratio_row "$label" "$o" "$r"
done
