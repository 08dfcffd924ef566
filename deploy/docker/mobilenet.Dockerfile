# wasmwhisk/mobilenet — a blackbox image (wsk action create --docker) with the native MobileNet
# action baked in as the code stub: /init without code succeeds and runs /action/exec, as in
# openwhisk-runtime-docker's dockerskeleton (core/actionProxy/actionproxy.py).
# The stub runs with /action as its working directory, so it finds the model in ./models/.
FROM scratch
COPY rootfs/ /
COPY --chown=1001:1001 home/ /home/
COPY action/ /action/
ENV TMPDIR=/tmp HOME=/home/whisk
WORKDIR /home/whisk
USER whisk
EXPOSE 8080
ENTRYPOINT ["/bin/actionproxy", "-listen", ":8080", "-executor", "native", "-stub", "/action/exec"]
