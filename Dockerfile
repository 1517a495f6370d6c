# syntax=docker/dockerfile:1
# Build stage: compile TypeScript (dev dependencies live only here).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts
COPY src ./src
COPY examples ./examples
RUN npm run build

# Runtime stage: production dependencies only, non-root, tini as PID 1 so signals reach node.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# The playground page (`bot-host playground`) is served from these files.
COPY playground ./playground
COPY bots.yaml ./bots.yaml
USER node
# Webhooks, /healthz, /readyz and /metrics (http.listen).
EXPOSE 8080
# docker stop sends SIGTERM; the host drains (shutdown.drain_timeout) and exits 0.
# Give docker stop a longer grace than drain_timeout: docker stop -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
# The config lives at /app/bots.yaml: mount yours there (docker run -v $PWD/bots.yaml:/app/bots.yaml:ro ...).
# Its `app:` path is relative to /app, so the built example is ./dist/examples/support-desk/index.js and your
# own app can be mounted anywhere under /app.
CMD ["start", "--config", "/app/bots.yaml"]
