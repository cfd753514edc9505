# The vigil image for docker-compose.yml: the demo AI gateway
# (examples/ai-gateway under `node --require @vigil/node/register`) and the
# alert relay (packages/alert-relay) — one image, the command picks.
#
#   docker build -t vigil/app:0.1.0 .                 # target "app" (the last stage)
#   docker build --target otel-collector -t vigil/otel-collector:0.148.0 .
#
# Build context: the repository root (.dockerignore keeps node_modules, build
# output and every secrets/ folder out of it).
#
# Node is the version the repository pins and tests with (package.json
# devDependency "node"); test/compose/compose.test.ts checks they agree.
ARG NODE_IMAGE=node:22.23.3-bookworm-slim

# ---------------------------------------------------------------------------
# The workspaces' package.json files alone, so the `npm ci` layer below is
# rebuilt only when a manifest or the lock file changes, not on every edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY packages ./packages
COPY examples ./examples
RUN find packages examples -mindepth 2 -maxdepth 2 ! -name package.json -exec rm -rf {} +

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json .npmrc ./
COPY --from=manifests /app/packages ./packages
COPY --from=manifests /app/examples ./examples
# --ignore-scripts: the only install scripts in the tree are the "node"
# devDependency's (it would download a second Node 22.23.3 next to the
# image's) and protobufjs' version notice; nothing needs to be compiled.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages ./packages
COPY examples ./examples
# What the compose commands run, with everything they import (project
# references): examples/ai-gateway/build/src/main.js, @vigil/node/register,
# packages/alert-relay/build/src/cli.js.
RUN node node_modules/typescript/bin/tsc -b examples/ai-gateway packages/alert-relay
# Production dependencies only; then drop sources, tests and build info.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf packages/*/src packages/*/test packages/*/build/test \
           examples/*/src examples/*/test examples/*/build/test \
 && find packages examples -name '*.tsbuildinfo' -delete

# ---------------------------------------------------------------------------
# The OpenTelemetry Collector with a healthcheck client. The upstream image is
# built FROM scratch: no shell, no wget, nothing that could ask the
# health_check extension (:13133) whether the collector is up. busybox's musl
# build is one static binary.
FROM busybox:1.37.0-musl AS busybox

FROM otel/opentelemetry-collector-contrib:0.148.0 AS otel-collector
COPY --from=busybox /bin/busybox /busybox

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS app
ENV NODE_ENV=production
WORKDIR /app
# Owned by root, run as the image's unprivileged "node" user: the service
# cannot change its own code.
COPY --from=build /app ./
USER node
# 3000 the demo gateway, 9464 its /metrics, 8080 the alert relay
EXPOSE 3000 9464 8080
CMD ["node", "--require", "@vigil/node/register", "examples/ai-gateway/build/src/main.js"]
