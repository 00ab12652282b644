#!/usr/bin/env bash
# Throughput of the data-type commands redis-benchmark knows (lists, sets, hashes, sorted sets,
# LRANGE_100 reply building), unpipelined and pipelined, ours vs redis-server 7.0.15 vs Garnet, in
# interleaved rounds: bench/throughput.sh with another test list and no pre-loaded string keys.
# Any option of bench/throughput.sh may follow and overrides these defaults (see its --help).
#
#   bench/commands.sh                     LPUSH, LPOP, SADD, HSET, ZADD, LRANGE_100 at -P 1 and -P 16
#   bench/commands.sh -r 5 -s ours,redis  five rounds, without Garnet
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
# LPOP follows LPUSH in every round, so it pops what LPUSH pushed and never meets an empty list.
# Elements and fields are drawn from 100000 names (-k), so SADD/HSET/ZADD mix inserts and updates.
exec "$here/throughput.sh" -t lpush,lpop,sadd,hset,zadd,lrange_100 -P 1,16 -n 100000 -N 500000 \
  -k 100000 --no-prefill "$@"
