# syntax=docker/dockerfile:1
# The modelship operator image: ghcr.io/modelship/modelship:<version>. See docs/helm.md
# ("Building the image") and docs/decisions/0003-packaging.md.
#
# Build stage: the full Node 20 image (npm, and a toolchain should a dependency ever need one).
# Dev dependencies are installed to compile the TypeScript, then pruned, so the runtime stage
# copies production node_modules only.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: distroless Node 20 (Debian 12): no shell, no package manager, running as the
# image's numeric "nonroot" user (65532), which the Deployment's runAsNonRoot can verify. The
# image's entrypoint is node, so CMD is the script.
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
EXPOSE 8080
CMD ["dist/main.js"]
