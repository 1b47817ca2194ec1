# The store node image: one esbuild bundle on a Node 20 runtime, nothing else.
# BASE_IMAGE defaults to the official slim image; where no registry is reachable the harness
# builds with BASE_IMAGE=jepsen-ts/node-base:<hash>, a base imported from the host's own Node.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}
COPY store-node.mjs /app/store-node.mjs
VOLUME ["/data"]
WORKDIR /app
EXPOSE 8000 7000
ENTRYPOINT ["node", "/app/store-node.mjs"]
