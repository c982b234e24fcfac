# dqs: one image for every role (coordinator, worker, results, cli); the role is chosen by the command.
#   docker build -t dqs .
#   docker run --rm -e REDIS_URL=redis://redis:6379 dqs                                   # coordinator (default)
#   docker run --rm -e REDIS_URL=redis://redis:6379 dqs node dist/apps/worker/src/main.js   # a worker
# See docker-compose.yml for the whole stack.

# ---- build: compile the TypeScript and the WebAssembly kernel (AssemblyScript, from source) ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# npm run build = asc (libs/qs/wasm/qs-kernel.wasm) + tsc + tsc-alias + scripts/copy-kernel.js (-> dist/libs/qs/wasm)
RUN npm run build

# ---- runtime: production dependencies, the compiled code and the dqs launcher only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
# dist/ holds its own copy of the kernel (dist/libs/qs/wasm/qs-kernel.wasm), so libs/qs/wasm is not needed.
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN ln -s /app/bin/dqs.js /usr/local/bin/dqs

# Data directory shared by every role. With G2S_DATA_DIR=/data, data goes to /data and logs to its
# sibling /logs (libs/store/src/data-dirs.ts), so both must exist and belong to the non-root user.
ENV G2S_DATA_DIR=/data
RUN mkdir -p /data /logs && chown node:node /data /logs
VOLUME /data
USER node

EXPOSE 3000
CMD ["node", "dist/apps/coordinator/src/main.js"]
