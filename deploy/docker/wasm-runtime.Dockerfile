# wasmwhisk/wasm-runtime — the OpenWhisk runtime image for kind wasm:0.1.
# Built by deploy/docker/build-images.sh from a rootfs it assembles (no base image, no registry):
# a statically linked actionproxy with the wasmtime executor, /etc/passwd for the non-root user,
# and a world-writable /tmp that holds the compiled-module cache (TMPDIR).
FROM scratch
COPY rootfs/ /
COPY --chown=1001:1001 home/ /home/
ENV TMPDIR=/tmp HOME=/home/whisk
WORKDIR /home/whisk
USER whisk
EXPOSE 8080
ENTRYPOINT ["/bin/actionproxy", "-listen", ":8080", "-executor", "wasm"]
