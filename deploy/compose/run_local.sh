#!/usr/bin/env bash
# deploy/compose without Docker: N `mcp-shop serve --http` and N `shop-episodes serve-env`
# processes on one PostgreSQL database, behind nginx running this directory's nginx.conf (its
# upstreams rewritten to the local ports). Needs the project installed (pip install
# '.[openenv]'), nginx on the PATH, and a PostgreSQL database:
#
#   deploy/compose/run_local.sh postgresql+psycopg://postgres@127.0.0.1:5432/shop [N]
#
# MCP at http://127.0.0.1:8000/mcp, the episode env at http://127.0.0.1:8100 (SHOP_PORT,
# ENV_PORT change them; the processes listen on the next ports up). Ctrl-C stops everything.
set -euo pipefail
DB=${1:?usage: run_local.sh POSTGRES_URL [PROCESSES]}
N=${2:-2}
SHOP_PORT=${SHOP_PORT:-8000}
ENV_PORT=${ENV_PORT:-8100}
SEED=${CATALOG_SEED:-0}
SIZE=${CATALOG_SIZE:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap stop EXIT INT TERM

mcp-shop build --db "$DB" --seed "$SEED" --size "$SIZE"  # once, before any server starts
shops="" envs=""
for k in $(seq 1 "$N"); do
  mcp-shop serve --http --db "$DB" --port $((SHOP_PORT + k)) --log-level WARNING &
  pids+=($!)
  shop-episodes serve-env --db "$DB" --port $((ENV_PORT + k)) --catalog-seed "$SEED" \
    --catalog-size "$SIZE" &
  pids+=($!)
  shops+="server 127.0.0.1:$((SHOP_PORT + k)) max_fails=1 fail_timeout=5s; "
  envs+="server 127.0.0.1:$((ENV_PORT + k)) max_fails=1 fail_timeout=5s; "
done

# The same configuration, with local upstreams, ports and paths
sed -e "s|server shop:8000 [^;]*;|$shops|" -e "s|server env:8100 [^;]*;|$envs|" \
    -e "s|listen 8000;|listen 127.0.0.1:$SHOP_PORT;|" -e "s|listen 8100;|listen 127.0.0.1:$ENV_PORT;|" \
    -e "s|^http {|http {\n    access_log off; client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy;|" \
    "$HERE/nginx.conf" > "$WORK/nginx.conf"

for port in $(seq $((SHOP_PORT + 1)) $((SHOP_PORT + N))) $(seq $((ENV_PORT + 1)) $((ENV_PORT + N))); do
  until python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2)" 2>/dev/null; do
    sleep 0.5
  done
done
echo "run_local: $N + $N processes up; nginx on :$SHOP_PORT (MCP) and :$ENV_PORT (env)" >&2
nginx -p "$WORK" -c "$WORK/nginx.conf" -g "daemon off; pid $WORK/nginx.pid; error_log stderr warn;" &
pids+=($!)
wait
