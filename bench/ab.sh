#!/usr/bin/env bash
# A/B of two configurations of our server (runtime settings, GC modes, builds), measured with
# redis-benchmark in interleaved rounds (A, B, A, B, ...) so that load from elsewhere on the machine
# hits both alike. Prints the median requests/sec of each side, B/A, server CPU seconds per million
# requests and the spread of the rounds, plus each server's RSS idle, after pre-loading and at the end.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF
usage: bench/ab.sh [options]

  --a-env "K=V ..."   environment of side A (default: none, i.e. the project's settings)
  --b-env "K=V ..."   environment of side B
  --a-bin PATH        launcher of side A (default ./redoubt of this checkout)
  --b-bin PATH        launcher of side B (default ./redoubt of this checkout)
  -n N / -N N         requests per unpipelined / pipelined run (default 200000 / 1000000)
  -r R                interleaved rounds (default 5)
  -t L                comma-separated redis-benchmark tests (default set,get)
  -P L                comma-separated pipeline depths (default 1,16)
  -c C                clients (default 50)
  -k K                keyspace, pre-loaded with 3-byte values (default 1000000; 0: no pre-load)
  -h                  this text
EOF
}

a_env="" b_env="" a_bin="$LIB_ROOT/redoubt" b_bin="$LIB_ROOT/redoubt"
n_plain=200000 n_piped=1000000 rounds=5 tests=set,get pipes=1,16 clients=50 keyspace=1000000
while (($#)); do
  case "$1" in
    --a-env) a_env="$2"; shift 2 ;;
    --b-env) b_env="$2"; shift 2 ;;
    --a-bin) a_bin="$2"; shift 2 ;;
    --b-bin) b_bin="$2"; shift 2 ;;
    -n) n_plain="$2"; shift 2 ;;
    -N) n_piped="$2"; shift 2 ;;
    -r) rounds="$2"; shift 2 ;;
    -t) tests="$2"; shift 2 ;;
    -P) pipes="$2"; shift 2 ;;
    -c) clients="$2"; shift 2 ;;
    -k) keyspace="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; lib_die "unknown option: $1" ;;
  esac
done
IFS=, read -r -a test_list <<<"$tests"
IFS=, read -r -a pipe_list <<<"$pipes"

out="$(mktemp -d -t redoubt-ab.XXXXXX)"
LIB_TMP_PATHS+=("$out")
trap lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Each side runs through a wrapper that sets its environment and execs the launcher, so that the
# process measured (CPU, RSS) is the server itself.
make_wrapper() {
  local f="$out/$1.sh" bin="$2" env="$3"
  printf '#!/usr/bin/env bash\nexec env %s %q "$@"\n' "$env" "$bin" >"$f"
  chmod +x "$f"
  echo "$f"
}
"$a_bin" --version >/dev/null && "$b_bin" --version >/dev/null

declare -A pid_of port_of rss_idle rss_loaded load_s
for side in A B; do
  if [[ $side == A ]]; then w="$(make_wrapper A "$a_bin" "$a_env")"; else w="$(make_wrapper B "$b_bin" "$b_env")"; fi
  REDOUBT="$w" lib_start_server ours "$out" || lib_die "side $side did not start"
  pid_of[$side]=$LIB_PID port_of[$side]=$LIB_PORT
  sleep 1
  rss_idle[$side]=$(($(lib_rss_bytes "$LIB_PID") / 1024))
  lib_log "$side: pid $LIB_PID port $LIB_PORT rss idle ${rss_idle[$side]} KiB"
  if ((keyspace > 0)); then
    t0=$(date +%s.%N)
    awk -v n="$keyspace" 'BEGIN { for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n", i }' |
      redis-cli -h 127.0.0.1 -p "$LIB_PORT" --pipe >"$out/prefill-$side.txt" 2>&1 || lib_die "pre-load of $side failed"
    load_s[$side]="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
    rss_loaded[$side]=$(($(lib_rss_bytes "$LIB_PID") / 1024))
    lib_log "$side: loaded $keyspace keys in ${load_s[$side]} s, rss ${rss_loaded[$side]} KiB"
  fi
done

tck="$(lib_clk_tck)"
results="$out/results.tsv"
: >"$results"
range=$keyspace; ((range > 0)) || range=100000
for ((round = 1; round <= rounds; round++)); do
  for t in "${test_list[@]}"; do
    for p in "${pipe_list[@]}"; do
      for side in A B; do
        n=$n_plain; ((p > 1)) && n=$n_piped
        before="$(lib_cpu_ticks "${pid_of[$side]}")"
        csv="$(redis-benchmark -h 127.0.0.1 -p "${port_of[$side]}" -c "$clients" -n "$n" -r "$range" -d 3 -P "$p" -t "$t" --csv)"
        after="$(lib_cpu_ticks "${pid_of[$side]}")"
        rps="$(awk -F'"' 'NR == 2 { print $4 }' <<<"$csv")"
        cpu="$(awk -v d=$((after - before)) -v t="$tck" -v n="$n" 'BEGIN { printf "%.2f", d / t / n * 1e6 }')"
        printf '%s\t%s\t%s\t%s\t%s\n' "$side" "$t" "$p" "$rps" "$cpu" >>"$results"
        lib_log "round $round $side $t -P $p: $rps req/s, $cpu CPU s/M"
      done
    done
  done
done

med() { awk -F'\t' -v s="$1" -v t="$2" -v p="$3" -v c="$4" '$1 == s && $2 == t && $3 == p { print $c }' "$results" | lib_median; }
spread() { awk -F'\t' -v s="$1" -v t="$2" -v p="$3" '$1 == s && $2 == t && $3 == p { print int($4) }' "$results" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
echo
echo "A/B $(date -u +%Y-%m-%d), $(nproc) cores, redis-benchmark -c $clients -r $range -d 3, keys pre-loaded: $keyspace, median of $rounds interleaved rounds"
echo "A: ${a_env:-(project defaults)}"
echo "B: ${b_env:-(project defaults)}"
echo
echo "| test | -P | A req/s | B req/s | B/A | A CPU s/M | B CPU s/M | A range | B range |"
echo "|---|---|---:|---:|---:|---:|---:|---|---|"
for t in "${test_list[@]}"; do
  for p in "${pipe_list[@]}"; do
    a="$(med A "$t" "$p" 4)" b="$(med B "$t" "$p" 4)"
    printf '| %s | %s | %.0f | %.0f | %.2f | %s | %s | %s | %s |\n' "${t^^}" "$p" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" "$(med A "$t" "$p" 5)" "$(med B "$t" "$p" 5)" \
      "$(spread A "$t" "$p")" "$(spread B "$t" "$p")"
  done
done
echo
for side in A B; do
  echo "$side: pre-load ${load_s[$side]:-n/a} s; RSS idle ${rss_idle[$side]} KiB, with $keyspace keys ${rss_loaded[$side]:-n/a} KiB, at end $(($(lib_rss_bytes "${pid_of[$side]}") / 1024)) KiB"
done
