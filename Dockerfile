# Sluice in server mode (Redis + ClickHouse from docker-compose.yml). The embedded engine (chDB,
# an optional dependency of several hundred MB) is left out of the image: set CLICKHOUSE_URL.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# the console's page and assets (src/http/console/assets) go with the compiled code
RUN npm run build && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 3001 8080
CMD ["node", "dist/main.js"]
