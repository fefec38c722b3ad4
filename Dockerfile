# syntax=docker/dockerfile:1
# ai-gateway: build with `docker build -t ai-gateway .`; see README "Running in production".

# Build: dependencies (better-sqlite3 needs a compiler when no prebuilt binary fits), TypeScript, then
# only the production dependencies are kept.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ui ./ui
# The admin UI's types of the API's answers (type-checked by npm run build:ui, erased from the bundle).
COPY clients/typescript/src/generated ./clients/typescript/src/generated
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

# Run: Node, the compiled gateway and its production dependencies; no compiler, no sources, not root.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
RUN mkdir -p /app/.gateway && chown node:node /app/.gateway
USER node
EXPOSE 8080
VOLUME ["/app/.gateway"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (see README "Shutdown"); SIGHUP reloads the config.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=32", "dist/cli.js"]
CMD ["serve"]
