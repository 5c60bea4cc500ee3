# One image for the whole mesh: skein-control-plane, skein-sidecar and skeinctl on PATH, run as
# the non-root user 65532. From the repository root:
#   docker build -t ghcr.io/skein-mesh/skein:0.1.0 .
# deploy/control-plane.yaml runs it as the control plane; the injection webhook runs the same
# image as each Pod's sidecar (SKEIN_SIDECAR_IMAGE).

# --- build: the whole workspace, then a self-contained copy of each package to ship ----------
FROM node:22-bookworm-slim AS build
WORKDIR /src
# CI: pnpm never stops to ask a question (there is no terminal to answer it).
ENV CI=true
RUN npm install --global pnpm@10
# `pnpm fetch` reads only the lockfile, so this layer is rebuilt only when dependencies change.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
RUN pnpm install --frozen-lockfile --prefer-offline \
 && pnpm run build
# Production dependencies only, and @skein/protocol copied in rather than linked. --legacy:
# pnpm 10 deploys without it only from workspaces with inject-workspace-packages=true.
RUN pnpm --filter @skein/control-plane --prod deploy --legacy /out/control-plane \
 && pnpm --filter @skein/sidecar --prod deploy --legacy /out/sidecar

# --- runtime ------------------------------------------------------------------------------
FROM node:22-bookworm-slim
# tini as PID 1 forwards signals and reaps children; both processes drain on SIGTERM.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 skein \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin skein
COPY --from=build /out/control-plane /opt/skein/control-plane
COPY --from=build /out/sidecar /opt/skein/sidecar
# Wrappers rather than symlinks to the packages' bins: tsc does not mark the .js files executable.
RUN printf '#!/bin/sh\nexec node /opt/skein/control-plane/dist/bin/control-plane.js "$@"\n' > /usr/local/bin/skein-control-plane \
 && printf '#!/bin/sh\nexec node /opt/skein/control-plane/dist/bin/skeinctl.js "$@"\n' > /usr/local/bin/skeinctl \
 && printf '#!/bin/sh\nexec node /opt/skein/sidecar/dist/bin/sidecar.js "$@"\n' > /usr/local/bin/skein-sidecar \
 && chmod 0755 /usr/local/bin/skein-control-plane /usr/local/bin/skeinctl /usr/local/bin/skein-sidecar
ENV NODE_ENV=production
USER 65532:65532
# Fails the build when a command cannot load its modules (every static import is resolved).
RUN skein-control-plane --help >/dev/null && skein-sidecar --help >/dev/null && skeinctl --help >/dev/null
# 15010 discovery (gRPC), 15014 control-plane HTTP, 15017 webhook; 15001 sidecar proxy, 15000 sidecar admin.
EXPOSE 15010 15014 15017 15001 15000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["skein-control-plane"]
