# One image for every Quad role; the command picks it (see compose/docker-compose.yml):
#   node --import ./dist/lib/observability/tracing.js dist/services/api/main.js | socket/… | worker/…
#   node dist/services/cli/main.js migrate
# NODE_IMAGE is a build argument so a mirror or a local stand-in can replace the Docker Hub image.
ARG NODE_IMAGE=node:20-bookworm-slim

# All dependencies, installed from the lockfile only: cached until package*.json change.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Production dependencies only, pruned from the same install (no second download).
FROM deps AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund

# TypeScript -> dist/
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY services ./services
# tsc copies only JavaScript: non-TypeScript files the modules read at run time (the rate-limit
# Lua scripts) go beside their compiled modules in dist/, where the code looks first.
RUN npm run build \
 && find lib services -name '*.lua' -exec cp --parents {} dist/ \;

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    QUAD_PROFILE=container
WORKDIR /app
# Root-owned and read-only for the service user: the process cannot rewrite its own code.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
USER node
EXPOSE 3000 3001 3002
CMD ["node", "--import", "./dist/lib/observability/tracing.js", "dist/services/api/main.js"]
