#!/usr/bin/env bash
# Check that the README's set-up works on a fresh Debian: clone the repository, then run
# scripts/setup.sh in a new Debian bookworm container (the debootstrap rootfs of the sandbox image,
# as root) that talks to this machine's Docker engine through its socket, and smoke-test the result.
# Catches Debian packages and shared libraries that this machine happens to have and a new one lacks.
# Local pip wheel folders, pip configuration and the CA bundle (if any) are passed through, as on the host.
#   scripts/check_fresh_debian.sh [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-cfcode-sandbox:latest}
WORK=$(mktemp -d /tmp/cfcode-fresh-XXXXXX)
git clone -q . "$WORK/src"
mounts=(-v "$WORK/src:/src" -v /var/run/docker.sock:/var/run/docker.sock)
for d in /opt/wheels /opt/pypi /opt/pypi-more; do [ -d "$d" ] && mounts+=(-v "$d:$d:ro"); done
[ -f /etc/pip.conf ] && mounts+=(-v /etc/pip.conf:/etc/pip.conf:ro)
# the host's CA bundle: registries may be reached through a proxy whose CA only the host trusts
CA=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$CA" ] && mounts+=(-v "$CA:/host-ca.crt:ro")
envs=()
for v in PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT; do
  [ -n "${!v:-}" ] && envs+=(-e "$v=${!v}")
done
[ -f "$CA" ] && envs+=(-e PIP_CERT=/host-ca.crt)
docker run --rm --user 0 --network bridge "${mounts[@]}" "${envs[@]}" -w /src "$IMAGE" bash -c '
  set -e
  mkdir -p /var/lib/apt/lists/partial /var/cache/apt/archives/partial
  ./scripts/setup.sh
  .venv/bin/python -c "import vllm, torch, trl, envs, rl.training.grpo, rl.inference.engines; print(\"imports ok\", torch.__version__, vllm.__version__)"
  .venv/bin/cfcode --help >/dev/null && echo "cfcode ok"
'
echo "fresh Debian set-up: OK ($WORK)"
