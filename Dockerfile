# syntax=docker/dockerfile:1
# One Dockerfile, four images. Node 24 runs the TypeScript sources directly (type stripping),
# so there is no build step: the image holds cmd/, internal/ and production dependencies.
#
#   docker build --target msrpd    -t ghcr.io/msrp-k8s/msrpd:0.1.0 .          (engine; also runs the admin sidecar)
#   docker build --target admin    -t ghcr.io/msrp-k8s/msrp-admin:0.1.0 .
#   docker build --target operator -t ghcr.io/msrp-k8s/msrp-operator:0.1.0 .
#   docker build --target msrp     -t ghcr.io/msrp-k8s/msrp:0.1.0 .           (command-line client)
#
# Every image runs as uid/gid 65532 and writes only to /tmp and the /data volume, so it works
# with readOnlyRootFilesystem.
#
# Without Docker: `npm run images` (scripts/images/build.ts) builds the same four images as OCI
# images from a Debian base made with mmdebstrap and the pinned Node binary, with no shell, tagged
# <version>-<commit> (README, "Container images"). scripts/images/oci.test.ts checks that the
# entrypoints, user, environment, working folder, ports and volume here match that build; keep
# them in step.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOME=/tmp \
    MSRP_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY cmd ./cmd
COPY internal ./internal
RUN mkdir -p /data && chown 65532:65532 /data
USER 65532:65532
VOLUME ["/data"]

FROM runtime AS admin
EXPOSE 8443
ENTRYPOINT ["node", "cmd/admin.ts"]

FROM runtime AS operator
EXPOSE 8080 8081
ENTRYPOINT ["node", "cmd/operator.ts"]

FROM runtime AS msrp
ENTRYPOINT ["node", "cmd/msrp.ts"]

# Last, so a plain `docker build .` gives the engine.
FROM runtime AS msrpd
EXPOSE 2855 5060 5060/udp 5061
ENTRYPOINT ["node", "cmd/msrpd.ts"]
