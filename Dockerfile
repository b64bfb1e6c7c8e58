# The sync server's image: `docker build -t json-sync/server .` (or `docker compose up -d`, which
# builds it). Two stages: the first builds the server with the dev dependencies and packs it as the
# npm packages the project publishes; the second installs those with production dependencies only,
# on the same slim Debian with Debian's Node.js (18), and runs as a user without privileges.
#
# Every setting comes from the environment (`sync-server serve --help` names them): DATABASE_URL
# (without it, the embedded database in SYNC_DATA_DIR, a volume), SYNC_PORT, SYNC_HEALTH_PORT,
# SYNC_HOST, SYNC_TLS_CERT/SYNC_TLS_KEY, SYNC_AUTH_FAILURE_LIMIT, SYNC_AUTH_TIMEOUT_SECONDS,
# SYNC_MAX_OUTBOUND_MB, LOG_LEVEL.
#
# The image test (server/src/deploy/image.test.ts) builds this file as it is, on a base image made
# from Debian's packages with mmdebstrap and tagged with the name below.
FROM docker.io/library/debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json tsconfig.base.json ./
COPY core/package.json core/
COPY server/package.json server/
COPY test-support/package.json test-support/
COPY client-ts/package.json client-ts/
COPY native/package.json native/
COPY faults/package.json faults/
# Only what building core and server takes; no install scripts (none of these needs one). Behind
# a proxy that re-signs TLS, pass its CA bundle as a build secret (never a layer):
#   docker build --secret id=npm_cafile,src=/etc/ssl/certs/ca-certificates.crt .
RUN --mount=type=secret,id=npm_cafile \
    if [ -s /run/secrets/npm_cafile ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm_cafile; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --workspace core --workspace server --include-workspace-root
COPY core/ core/
COPY server/ server/
RUN --mount=type=secret,id=npm_cafile \
    if [ -s /run/secrets/npm_cafile ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm_cafile; fi \
 && npx tsc -b server \
 && mkdir -p /packages \
 && npm pack --workspace core --workspace server --pack-destination /packages \
 && mkdir -p /opt/sync-server \
 && cd /opt/sync-server \
 && echo '{"name":"sync-server-image","private":true}' > package.json \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund /packages/*.tgz

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/sync-server --create-home sync-server
COPY --from=build /opt/sync-server /opt/sync-server
ENV PATH=/opt/sync-server/node_modules/.bin:$PATH \
    NODE_ENV=production \
    SYNC_HOST=0.0.0.0 \
    SYNC_PORT=8080 \
    SYNC_HEALTH_PORT=8081 \
    SYNC_DATA_DIR=/var/lib/sync-server
USER sync-server
WORKDIR /var/lib/sync-server
VOLUME /var/lib/sync-server
EXPOSE 8080 8081
# /health on the health port: 200 while the database answers. No curl in the slim image: Node asks.
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+process.env.SYNC_HEALTH_PORT+'/health',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# SIGTERM drains and exits within 5 s (compose's stop_grace_period leaves room for it).
STOPSIGNAL SIGTERM
ENTRYPOINT ["sync-server"]
CMD ["serve"]
