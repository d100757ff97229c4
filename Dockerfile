# mender-gw container image: docker build -t mender-gw:0.1.0 .
# Operator notes: docs/packaging.md ("Container image"); compose example: packaging/docker-compose.yml.
# No "# syntax=" line on purpose: it would pull an extra, unpinned frontend image at build time.
#
# Base image, pinned by digest. Node 20 images stopped receiving rebuilds at Node 20's end of
# life, so the digest is also the only way to know exactly what you ship.
#
# VERIFY BEFORE RELEASE: this digest was NOT resolved on the machine that wrote this file (it had no
# registry access). It is the manifest-list digest of node:20.20.2-bookworm-slim as pinned by
# several unrelated public projects. Before the first release build, check it from a machine
# with registry access and replace it if it differs:
#   docker buildx imagetools inspect node:20.20.2-bookworm-slim   (first "Digest:" line)
# or: skopeo inspect --raw docker://docker.io/library/node:20.20.2-bookworm-slim | sha256sum
# When a digest is present Docker ignores the tag; the tag is kept for humans.
# Override for a mirror or a newer base: docker build --build-arg NODE_IMAGE=<image>@sha256:<digest> .
ARG NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

# ---------------------------------------------------------------------------------------------
# Stage 1: build. All dependencies (dev included), TypeScript compile, oclif manifest.
# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The manifest lets oclif find commands without loading every command module at start-up.
RUN npm run build && npx oclif manifest

# ---------------------------------------------------------------------------------------------
# Stage 2: runtime. Production dependencies from the lockfile, the compiled code, nothing else.
# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="mender-gw" \
      org.opencontainers.image.description="Open-source gateway that brings Mender OTA updates to devices on segregated networks" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV NODE_ENV=production
WORKDIR /opt/mender-gw

# No dependency has an install script it needs (the two that have one are dev-only).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Application files stay owned by root: the gateway cannot modify its own code.
COPY --from=build /src/dist ./dist
COPY --from=build /src/oclif.manifest.json ./oclif.manifest.json
COPY bin/run.js ./bin/run.js

# /etc/mender: mender-gateway.conf (optional) plus certificates and keys, mounted read-only.
#   Files must be readable by uid 1000 (user "node"). Mender's own image runs as nobody (65534).
# /var/cache/mender-gateway: the artifact cache (ArtifactsCache.Path default), owned by node so
#   a fresh named volume inherits the ownership.
RUN mkdir -p /etc/mender /var/cache/mender-gateway \
 && chown node:node /var/cache/mender-gateway \
 && chmod 0750 /var/cache/mender-gateway

# Configuration: /etc/mender/mender-gateway.conf if it exists, then environment variables, which
# win over the file. Every key has one, with Mender Gateway's names (docs/configuration.md), e.g.
#   UPSTREAM_SERVER_URL=https://hosted.mender.io
#   HTTPS_ENABLED=true  HTTPS_LISTEN=:8443
#   HTTPS_SERVER_CERTIFICATE=/etc/mender/server.crt  HTTPS_SERVER_KEY=/etc/mender/server.key
#   HTTP_ENABLED=false  HTTP_LISTEN=:8080
#   ARTIFACTS_PROXY_ENABLED=true  ARTIFACTS_PROXY_GATEWAY_URL=https://gateway.example.internal
#   ARTIFACTS_PROXY_DOMAIN_WHITELIST="s3.amazonaws.com cloudflarestorage.com blob.core.windows.net"
#   ARTIFACTS_PROXY_CACHE_ENABLED=true  ARTIFACTS_PROXY_CACHE_SECRET=<openssl rand -base64 32>
#   MTLS_ENABLED=true  MTLS_CA_CERTIFICATE=/etc/mender/ca.crt  MTLS_MENDER_USERNAME=…  MTLS_MENDER_PASSWORD=…
#   METRICS_ENABLED=true  METRICS_LISTEN=:9102
#   HTTPS_PROXY=http://proxy.example:3128  NO_PROXY=.internal
# None of them is set here on purpose: an image-level value would silently override the mounted
# file, and any HTTPS_* variable turns HTTPS on for an HTTP-only configuration. Set them at run time.
# An empty value (-e HTTPS_LISTEN=) counts as unset.
#
# The health check probes GET /api/internal/v1/gateway/alive (204) at this URL. Point it at the
# listener you actually run, e.g. http://127.0.0.1:8080/… when only HTTP is on, or with mTLS on
# (where the HTTPS handshake needs a client certificate) at a loopback HTTP listener
# (HTTP_ENABLED=true HTTP_LISTEN=127.0.0.1:8080: with mTLS it serves only the health endpoints).
ENV MGW_HEALTHCHECK_URL=https://127.0.0.1:8443/api/internal/v1/gateway/alive

VOLUME ["/etc/mender", "/var/cache/mender-gateway"]

# Non-root: listen on 8443 and publish it as 443 (docker run -p 443:8443).
# 9102 is Metrics.Listen's port (metrics are off by default; inside a container set
# METRICS_LISTEN=:9102 and publish it on loopback only: -p 127.0.0.1:9102:9102).
EXPOSE 8443 9102

USER node

# serve handles SIGTERM itself (graceful: transfers get ShutdownGracePeriod, default 30s), so
# node may run as PID 1. Give it more time than that before SIGKILL: docker run --stop-timeout 45
# (compose: stop_grace_period: 45s). docker run --init (tini) is optional: serve spawns no children.
STOPSIGNAL SIGTERM

# No curl in slim images: a node one-liner. The probe is local, so the gateway's certificate is not
# verified (it is usually issued for the device-network name, not 127.0.0.1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const u=new URL(process.env.MGW_HEALTHCHECK_URL||'https://127.0.0.1:8443/api/internal/v1/gateway/alive');require(u.protocol==='https:'?'node:https':'node:http').get(u,{rejectUnauthorized:false,timeout:4000},r=>process.exit(r.statusCode===204?0:1)).on('timeout',()=>process.exit(1)).on('error',()=>process.exit(1))"]

# Extra arguments are flags of serve: docker run … mender-gw:0.1.0 --log-level debug
# --max-semi-space-size=2: a smaller V8 young generation; see docs/performance.md (M5).
ENTRYPOINT ["node", "--max-semi-space-size=2", "/opt/mender-gw/bin/run.js", "serve"]
CMD []
