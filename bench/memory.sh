#!/usr/bin/env bash
# Memory per key: starts each server fresh, loads the same deterministic keys through
# `redis-cli --pipe`, and reports bytes per key by RSS (/proc/<pid>/status VmRSS) and by INFO
# used_memory (where the server has it; Garnet reports RSS only).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF
usage: bench/memory.sh [options]

For each server, one after another: start it fresh on a free loopback port (no persistence), record
RSS and used_memory, load N keys "key:%07d" (11 bytes) with values "val:%06d" (10 bytes) as plain
SETs, wait for the process to settle, record again, stop it. Prints a Markdown table.

options:
  -k, --keys N      keys to load (default 1000000; at most 10000000 so the formats keep their size)
  -s, --servers L   comma-separated subset of ours,redis,garnet (default all three)
  --settle S        seconds to wait after loading before measuring (default 3)
  -o, --out DIR     keep server logs and raw numbers in DIR (default: a temporary directory, removed)
  -h, --help        this text

environment: REDOUBT, REDIS_SERVER, GARNET_DIR, GARNET_VERSION as for bench/throughput.sh.
EOF
}

keys=1000000 servers=ours,redis,garnet settle=3 out=""
while (($#)); do
  case "$1" in
    -k|--keys) keys="$2"; shift 2 ;;
    -s|--servers) servers="$2"; shift 2 ;;
    --settle) settle="$2"; shift 2 ;;
    -o|--out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; echo >&2; lib_die "unknown option: $1" ;;
  esac
done
[[ "$keys" =~ ^[1-9][0-9]*$ ]] && ((keys <= 10000000)) || lib_die "--keys must be 1..10000000 (got '$keys')"
[[ "$settle" =~ ^[0-9]+$ ]] || lib_die "--settle must be a whole number of seconds"
IFS=, read -r -a server_list <<<"$servers"
for s in "${server_list[@]}"; do [[ "$s" =~ ^(ours|redis|garnet)$ ]] || lib_die "unknown server '$s'"; done
for cmd in redis-cli ss awk; do command -v "$cmd" >/dev/null || lib_die "$cmd not found"; done

if [[ -z "$out" ]]; then
  out="$(mktemp -d -t redoubt-memory.XXXXXX)"
  LIB_TMP_PATHS+=("$out")
else
  mkdir -p "$out"
fi
trap lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ",$servers," == *,garnet,* ]]; then
  if LIB_GARNET="$(lib_garnet_bin)"; then :; else
    lib_log "garnet unavailable: continuing without it"
    keep=(); for s in "${server_list[@]}"; do [[ "$s" != garnet ]] && keep+=("$s"); done
    server_list=("${keep[@]}")
  fi
fi
((${#server_list[@]})) || lib_die "no server left to measure"
if [[ " ${server_list[*]} " == *" ours "* ]]; then
  "${REDOUBT:-$LIB_ROOT/redoubt}" --version >/dev/null || lib_die "our launcher failed to build"
fi

# The load is generated once and fed to every server byte for byte.
payload="$out/load.resp"
awk -v n="$keys" 'BEGIN {
  for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$11\r\nkey:%07d\r\n$10\r\nval:%06d\r\n", i, i % 1000000
}' >"$payload"

dbsize() { timeout 30 redis-cli -h 127.0.0.1 -p "$1" dbsize 2>/dev/null | tr -d '\r'; }
per_key() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else printf "%.1f", (b - a) / n }'; }
mib() { awk -v v="$1" 'BEGIN { if (v == "n/a") print "n/a"; else printf "%.1f", v / 1048576 }'; }

raw="$out/memory.tsv"
printf 'server\trss_before\trss_after\tused_before\tused_after\tkeys\n' >"$raw"
declare -A row
for s in "${server_list[@]}"; do
  lib_log "starting $s"
  lib_start_server "$s" "$out" || lib_die "$s did not start"
  pid=$LIB_PID port=$LIB_PORT
  sleep 1
  rss0="$(lib_rss_bytes "$pid")" used0="$(lib_used_memory "$port")"
  [[ "$s" == garnet ]] && used0=n/a
  lib_log "$s: loading $keys keys"
  timeout 900 redis-cli -h 127.0.0.1 -p "$port" --pipe <"$payload" >"$out/load-$s.txt" 2>&1 ||
    { tail -n 5 "$out/load-$s.txt" >&2; lib_die "$s: load failed"; }
  grep -q 'errors: 0,' "$out/load-$s.txt" || { tail -n 5 "$out/load-$s.txt" >&2; lib_die "$s: load had errors"; }
  n="$(dbsize "$port")"
  # Garnet's DBSIZE counts what its log holds; accept it when it matches, warn otherwise.
  [[ "$n" == "$keys" ]] || lib_log "warning: $s reports DBSIZE '$n' after loading $keys keys"
  sleep "$settle"
  rss1="$(lib_rss_bytes "$pid")" used1="$(lib_used_memory "$port")"
  [[ "$s" == garnet ]] && used1=n/a
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$rss0" "$rss1" "$used0" "$used1" "$keys" >>"$raw"
  row[$s]="| $s | $(mib "$rss0") | $(mib "$rss1") | $(per_key "$rss0" "$rss1" "$keys") | $(mib "$used0") | $(mib "$used1") | $(per_key "$used0" "$used1" "$keys") |"
  lib_log "${row[$s]}"
  lib_stop_pid "$pid" 15
  lib_forget_pid "$pid"
done

echo
echo "Memory: $(date -u +%Y-%m-%d), $(nproc) cores, $keys keys of 11 bytes with 10-byte values, loaded with redis-cli --pipe."
echo
echo "| server | RSS before (MiB) | RSS after (MiB) | bytes/key by RSS | used_memory before (MiB) | used_memory after (MiB) | bytes/key by used_memory |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in "${server_list[@]}"; do echo "${row[$s]}"; done
