#!/usr/bin/env bash
# ensure-dockerd.sh — make a local Docker engine answer on /var/run/docker.sock.
#
# Idempotent: when `docker info` already works it does nothing. Otherwise it
# installs Debian's docker.io (only if dockerd is missing), starts dockerd in the
# background without systemd, logging to $DOCKERD_LOG, and waits until
# `docker info` answers or $DOCKERD_TIMEOUT seconds have passed.
#
# Environment:
#   DOCKERD_LOG      log file of the daemon       (default /var/log/wasmwhisk-dockerd.log)
#   DOCKERD_TIMEOUT  seconds to wait for the API  (default 60)
set -euo pipefail

log=${DOCKERD_LOG:-/var/log/wasmwhisk-dockerd.log}
timeout=${DOCKERD_TIMEOUT:-60}

say() { echo "ensure-dockerd: $*" >&2; }

# retry CMD...: run CMD up to 5 times, 10 s apart (apt's list lock has no timeout option).
retry() {
	local i
	for i in 1 2 3 4 5; do
		if [ -z "$1" ]; then "${@:2}" && return 0; else "$@" && return 0; fi
		say "attempt $i failed: ${*}; retrying in 10s"
		sleep 10
	done
	return 1
}

if docker info >/dev/null 2>&1; then
	say "docker is up"
	exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
		say "not root and no sudo: cannot install or start dockerd"; exit 1
	fi
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
	say "dockerd or docker missing: installing Debian's docker.io"
	export DEBIAN_FRONTEND=noninteractive
	# Other installs may hold the dpkg/apt locks: wait for them instead of failing.
	apt_wait=(-o DPkg::Lock::Timeout=300)
	retry "$sudo" apt-get "${apt_wait[@]}" update -qq
	# docker.io brings containerd and runc; the CLI may already be elsewhere on PATH.
	retry "$sudo" apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi
if ! command -v docker >/dev/null 2>&1; then
	say "docker CLI missing after install"; exit 1
fi

# dockerd writes its pid here; a stale file from a dead daemon stops a new one from starting.
pidfile=/var/run/docker.pid
running=0
if [ -f "$pidfile" ]; then
	if $sudo kill -0 "$(cat "$pidfile")" 2>/dev/null; then running=1; else $sudo rm -f "$pidfile"; fi
fi

if [ "$running" = 0 ]; then
	say "starting dockerd (log: $log)"
	$sudo mkdir -p "$(dirname "$log")"
	# nohup + setsid: the daemon outlives this script and its session.
	$sudo setsid nohup dockerd >>"$log" 2>&1 </dev/null &
fi

deadline=$((SECONDS + timeout))
until docker info >/dev/null 2>&1; do
	if [ $SECONDS -ge $deadline ]; then
		say "ERROR: dockerd did not answer within ${timeout}s; last lines of $log:"
		tail -n 30 "$log" >&2 || true
		exit 1
	fi
	sleep 0.5
done
say "docker is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
