# syntax=docker/dockerfile:1
# The modelship operator image: ghcr.io/modelship/modelship:<version>. See docs/helm.md
# ("Building the image") and docs/decisions/0003-packaging.md.
#
# Build stage: the full Node 24 LTS image (npm, and a toolchain should a dependency ever need one).
# Dev dependencies are installed to compile the TypeScript, then pruned, so the runtime stage
# copies production node_modules only. `npm run build` runs tsc through hack/node.sh, which takes
# the image's node (it meets package.json's engines).
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY hack/node.sh ./hack/node.sh
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: distroless Node 24 (Debian 12, the libc of the bookworm build stage): no shell, no
# package manager, running as the image's numeric "nonroot" user (65532), which the Deployment's
# runAsNonRoot can verify.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
# V8's young generation at 2 MiB (Node 24's default is 16, as Node 20's): the operator's garbage
# is short-lived parsed watch events and list pages; with the default, V8 keeps ~100 MiB more
# committed at 1,000 ModelDeployments (docs/benchmarks.md, footprint); with 2 it is collected young,
# for <1% of a core.
ENV NODE_OPTIONS=--max-semi-space-size=2
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
EXPOSE 8080
# The operator is the entry point (the base image's node, then the script), so a Deployment's
# `args` are the operator's flags: Kubernetes' args replace CMD, never ENTRYPOINT.
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
CMD []
