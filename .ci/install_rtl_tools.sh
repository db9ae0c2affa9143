#!/bin/sh
# Install Icarus Verilog (iverilog + vvp) for the RTL co-simulation tests in tests/rtl/.
# Idempotent: does nothing when iverilog is already on PATH. Debian/Ubuntu (apt-get), as root.
set -eu
if command -v iverilog >/dev/null 2>&1; then
    echo "iverilog already installed: $(iverilog -V 2>&1 | head -n 1)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
$SUDO apt-get update
$SUDO apt-get install -y iverilog
iverilog -V 2>&1 | head -n 1
