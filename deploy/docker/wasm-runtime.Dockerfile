# wasmwhisk/wasm-runtime — the OpenWhisk runtime image for kind wasm:0.1.
# Built by deploy/docker/build-images.sh from a rootfs it assembles (no base image, no registry):
# a statically linked actionproxy with the wasmtime executor, /etc/passwd for the non-root user,
# a world-writable /tmp (TMPDIR), and the compiled-module cache in /var/cache/wasmwhisk (owned by
# the user, mode 0700). A fresh container starts with an empty cache, so its first /init compiles;
# mount one named volume there in every container (the standalone's docker backend does) and a
# module compiled once is only deserialized by later cold starts.
# wasi-nn (wasi_ephemeral_nn) is on: an action's archive models load by name; mount a directory of
# .onnx models and set WASMWHISK_WASM_NN_MODELS to it for models every action may load, or set
# WASMWHISK_WASM_NN=false to refuse the import.
FROM scratch
COPY rootfs/ /
COPY --chown=1001:1001 home/ /home/
COPY --chown=1001:1001 modcache/ /var/cache/wasmwhisk/
ENV TMPDIR=/tmp HOME=/home/whisk
WORKDIR /home/whisk
USER whisk
EXPOSE 8080
ENTRYPOINT ["/bin/actionproxy", "-listen", ":8080", "-executor", "wasm", "-wasm-cache", "/var/cache/wasmwhisk"]
