# etcd from a binary on the host (Debian's etcd-server, or one scripts/build-etcd.sh built):
# nothing is pulled. rootfs/ holds the shared libraries `ldd` lists for it (none for a static
# CGO_ENABLED=0 build) and the few files a resolver needs, so the same file works FROM scratch
# or, for online users, FROM any base image (BASE_IMAGE).
ARG BASE_IMAGE=scratch
FROM ${BASE_IMAGE}
COPY rootfs/ /
COPY etcd /usr/local/bin/etcd
VOLUME ["/data"]
EXPOSE 2379 2380
ENTRYPOINT ["/usr/local/bin/etcd"]
