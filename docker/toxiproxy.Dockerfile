# Toxiproxy from the host's locally built `toxiproxy-server` (go install ...@v2.12.0).
# rootfs/ holds the shared libraries `ldd` lists for it (empty for a static CGO_ENABLED=0 build),
# so the same file works FROM scratch or FROM the local Node base.
ARG BASE_IMAGE=scratch
FROM ${BASE_IMAGE}
COPY rootfs/ /
COPY toxiproxy-server /toxiproxy-server
EXPOSE 8474
ENTRYPOINT ["/toxiproxy-server", "-host", "0.0.0.0", "-port", "8474"]
