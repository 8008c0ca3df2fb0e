# syntax=docker/dockerfile:1
#
# keycloak-scim-relay: `docker build -t keycloak-scim-relay .`
# The relay alone. The project's Kestra-compatible SCIM server, for demos and tests, is the
# workspace package packages/scim-server, with an image of its own (its Dockerfile there).

# All stages share one base so the native addon compiled in `deps` matches the runtime's Node ABI
# and glibc.
ARG NODE_IMAGE=node:22-bookworm-slim

# Dependencies come from `npm ci`: exactly what package-lock.json pins, or the build fails.
# `--workspaces=false`: the relay's own dependencies only. A plain `npm ci` at the root would also
# install every workspace's (the SCIM server's express and scimmy), even with `--omit=dev`.

# --- build: compile TypeScript; no install scripts are needed for that --------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --workspaces=false --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only, with better-sqlite3's native addon --------------------
FROM ${NODE_IMAGE} AS deps
# better-sqlite3 fetches a prebuilt binary when one matches; otherwise node-gyp compiles it,
# against the image's own Node headers rather than downloading them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts run as package.json's allowScripts approves (better-sqlite3: yes). Then only
# the compiled addon of better-sqlite3 is kept: its sources and objects are 25 MB the runtime
# never reads.
RUN npm ci --omit=dev --workspaces=false --no-audit --no-fund \
    && npm cache clean --force \
    && cd node_modules/better-sqlite3 \
    && find build -mindepth 1 -maxdepth 2 ! -path build/Release ! -path build/Release/better_sqlite3.node -exec rm -rf {} + \
    && rm -rf deps src
# Fail the build here, not at the first start, if the addon did not build or load.
RUN node -e "new (require('better-sqlite3'))(':memory:').close()"

# --- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    STATE_DIR=/var/lib/keycloak-scim-relay \
    HTTP_PORT=9464
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# The state directory is the only place the relay writes; owned by the unprivileged `node` user
# (uid 1000) of the base image. A numeric USER lets Kubernetes verify runAsNonRoot.
RUN mkdir -p /var/lib/keycloak-scim-relay && chown 1000:1000 /var/lib/keycloak-scim-relay
USER 1000:1000
VOLUME ["/var/lib/keycloak-scim-relay"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["node", "dist/src/http/healthcheck.js"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
