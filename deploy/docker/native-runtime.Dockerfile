# wasmwhisk/native-runtime — the OpenWhisk runtime image for native actionloop executables
# (static ELF or a zip with exec, as apache/openwhisk-runtime-go builds them). Same rootfs as the
# wasm runtime; actions are unpacked under TMPDIR.
FROM scratch
COPY rootfs/ /
COPY --chown=1001:1001 home/ /home/
ENV TMPDIR=/tmp HOME=/home/whisk
WORKDIR /home/whisk
USER whisk
EXPOSE 8080
ENTRYPOINT ["/bin/actionproxy", "-listen", ":8080", "-executor", "native"]
