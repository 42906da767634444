# The shop env as an OpenEnv environment (openenv.yaml): `shop-episodes serve-env` on port 8000,
# the container port OpenEnv's providers map (EnvClient.from_docker_image, from_env).
#
#   docker build -t shop-env .          (or: openenv build .)
#   docker run -p 8000:8000 shop-env
#   docker run -p 8000:8000 -e SHOP_ENV_ARGS="--tasks /data/tasks.jsonl --allowed-host my.host" \
#       -v $PWD/tasks.jsonl:/data/tasks.jsonl shop-env
#
# SHOP_ENV_ARGS: more serve-env options (--tasks, --reward-mode, --max-episodes, --allowed-host
# for a public host name: the server accepts only localhost Host headers otherwise, ...).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# curl for the health check
RUN apt-get update && \
    apt-get install -y --no-install-recommends curl && \
    rm -rf /var/lib/apt/lists/*

WORKDIR /app/env
COPY pyproject.toml README.md openenv.yaml ./
COPY mcp_shop ./mcp_shop
COPY episodes ./episodes
COPY verifiers ./verifiers
RUN pip install ".[openenv]"

# The catalog (seed 0, 10,000 products) and its search index, built into the image so that the
# server is healthy within seconds of starting.
ENV MCP_SHOP_DB=sqlite:////data/shop.db \
    SHOP_ENV_ARGS=""
RUN mkdir -p /data && mcp-shop build --db "$MCP_SHOP_DB" --seed 0 --size 10000

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -f http://localhost:8000/health || exit 1

CMD ["sh", "-c", "exec shop-episodes serve-env --host 0.0.0.0 --port 8000 --db \"$MCP_SHOP_DB\" --catalog-seed 0 --catalog-size 10000 $SHOP_ENV_ARGS"]
