#!/bin/sh
# Install the simulators of the RTL co-simulation tests in tests/rtl/: Icarus Verilog (iverilog +
# vvp; every RTL test) and Verilator (the Verilator tests: one small build in the default run, the
# rest with -m slow). Idempotent: installs only what is not on PATH. Debian/Ubuntu (apt-get), as root.
set -eu
missing=""
command -v iverilog >/dev/null 2>&1 && command -v vvp >/dev/null 2>&1 || missing="iverilog"
command -v verilator >/dev/null 2>&1 || missing="$missing verilator"
if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    fi
    $SUDO apt-get update
    # shellcheck disable=SC2086
    $SUDO apt-get install -y $missing
fi
echo "iverilog: $(iverilog -V 2>&1 | head -n 1)"
echo "verilator: $(verilator --version 2>&1 | head -n 1)"
