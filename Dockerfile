# syntax=docker/dockerfile:1
# One image for the coordinator, the workers and the `nnq` CLI (see docs/deploy.md).
#   docker build -t nnq .                                   # WITH_FASHION_MNIST=1 adds the dataset
#   docker run nnq coordinator | docker run nnq worker | docker run nnq train examples/xor.json
# The first argument picks the app: `coordinator`, `worker`, or anything else for `nnq <args>`.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: every dependency, swc compiles apps/ and libs/ to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# .npmrc: onnxruntime-node-install=skip (the package ships its CPU binaries; no download)
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY .swcrc tsconfig.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

# ---- runtime: production dependencies, dist/, the dashboard's static files ----
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to node, which drains its shard and exits (node as PID 1 would not die
# of the signal it re-raises after the shutdown hooks); Debian's dataset-fashion-mnist on request
ARG WITH_FASHION_MNIST=0
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && if [ "$WITH_FASHION_MNIST" = "1" ]; then apt-get install -y --no-install-recommends dataset-fashion-mnist; fi \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NNQ_HOST=0.0.0.0 \
    NNQ_PORT=3000 \
    NNQ_WORKER_PORT=9100 \
    NNQ_DATA_DIR=/data \
    NNQ_RUN_STORE=redis
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY apps/coordinator/src/dashboard/public ./apps/coordinator/src/dashboard/public
COPY bin ./bin
COPY examples ./examples
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000 9100
# /health of the app in this container: a worker answers on NNQ_WORKER_PORT, the coordinator on NNQ_PORT
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const get=(p)=>fetch('http://127.0.0.1:'+p+'/health',{signal:AbortSignal.timeout(2000)});get(process.env.NNQ_WORKER_PORT).catch(()=>get(process.env.NNQ_PORT)).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["tini", "--", "/bin/sh", "-c", "case \"$1\" in coordinator|worker) app=$1; shift; exec node --initial-heap-size=512 \"dist/apps/$app/src/main.js\" \"$@\" ;; *) exec node bin/nnq.js \"$@\" ;; esac", "nnq"]
CMD ["coordinator"]
