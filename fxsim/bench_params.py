"""The parameters a vector folder gives an RTL test bench, and the bench's echo of them.

``export_vectors`` writes ``params.vh`` (unless ``bench=False``): one ```define FXSIM_<NAME>`` per
parameter (formats of every port, count, modes, r, K, the LFSR's n, mask, form, rule, lanes and
seed), so a bench compiled with ``iverilog -I rtl -I FOLDER`` (no ``-P``) takes its parameters
from the folder.  The benches of ``rtl/`` write what they were compiled with to
``OUT/tb_params.txt`` (``NAME VALUE`` lines, the same names); ``check_outputs`` compares that
echo with the manifest and names the parameter that differs.

>>> p = {"OP": "cast", "COUNT": 4, "X_WL": 16, "LFSR_MASK": 0xD008, "LFSR_N": 16}
>>> print(header_text(p, "x"), end="")               # doctest: +ELLIPSIS
// params.vh -- written by fxsim export-vectors ...
`define FXSIM_OP "cast"
`define FXSIM_COUNT 4
`define FXSIM_X_WL 16
`define FXSIM_LFSR_MASK 16'hd008
`define FXSIM_LFSR_N 16
>>> compare({"X_WL": 16, "R": 8}, {"X_WL": 16, "R": 16})
[('R', 8, 16)]
"""
from __future__ import annotations

import os
import re

HEADER = "params.vh"
ECHO = "tb_params.txt"
SR_UNIT_MODES = {"stochastic": 0, "nearest_even": 1, "floor": 2}   # rtl/sr_unit.v `mode`
_MAX_ECHO = 1 << 16
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_STR = re.compile(r"^[A-Za-z0-9_]{0,64}$")


def sr_unit_mode(modes: dict) -> int | None:
    """rtl/sr_unit.v's mode code of a manifest's ``modes`` (None: the unit has no such mode).

    >>> sr_unit_mode({"rounding": "nearest_even", "overflow": "saturate"}), sr_unit_mode({"rounding": "ceil"})
    (1, None)
    """
    code = SR_UNIT_MODES.get(modes.get("rounding"))
    if code == 0 and (modes.get("sr_rule") != "trunc" or modes.get("E", 0)):
        return None
    if modes.get("overflow") != "saturate":
        return None
    return code


F32_UNITS = {(8, 7): 16, (4, 3): 32, (5, 2): 32}      # rtl/f32_cvt.v: (exp, man bits): largest R
F32_UNIT_MODES = {"nearest_even": 0, "stochastic": 1}  # its `mode`


def f32_unit_mode(modes: dict, x: dict, y: dict) -> int | None:
    """rtl/f32_cvt.v's mode code of a float cast (``modes`` of a manifest; ``x``, ``y`` the
    ports' format entries), None when the unit cannot do it: float32 in; bf16, e4m3 or e5m2
    out (default bias, subnormals); nearest_even, or stochastic with the trunc rule and
    R <= 16 (bf16) or 32; overflow ieee or saturate.

    >>> fp32 = {"float": {"exp_bits": 8, "man_bits": 23, "bias": 127, "subnormals": True, "nonfinite": "ieee"}}
    >>> e5m2 = {"float": {"exp_bits": 5, "man_bits": 2, "bias": 15, "subnormals": True, "nonfinite": "ieee"}}
    >>> f32_unit_mode({"rounding": "stochastic", "sr_rule": "trunc", "r": 20, "E": 0, "overflow": "ieee"}, fp32, e5m2)
    1
    >>> f32_unit_mode({"rounding": "nearest_even", "overflow": "error"}, fp32, e5m2) is None
    True
    """
    fx, fy = x.get("float"), y.get("float")
    if not fx or not fy or (fx["exp_bits"], fx["man_bits"], fx["bias"], fx["nonfinite"]) != (8, 23, 127, "ieee"):
        return None
    eb, m = fy["exp_bits"], fy["man_bits"]
    rmax = F32_UNITS.get((eb, m))
    nonfinite = "fn" if (eb, m) == (4, 3) else "ieee"
    if rmax is None or fy["bias"] != (1 << (eb - 1)) - 1 or not fy["subnormals"] or fy["nonfinite"] != nonfinite:
        return None
    code = F32_UNIT_MODES.get(modes.get("rounding"))
    if code == 1 and (modes.get("sr_rule") != "trunc" or modes.get("E", 0) or modes.get("r", 0) > rmax):
        return None
    if modes.get("overflow") not in ("ieee", "saturate") or not fx["subnormals"]:
        return None
    return code


def params_of(manifest: dict) -> dict:
    """{NAME: int or str} of a manifest fxsim just wrote (not of a folder from outside).

    >>> m = {"operation": "cast", "count": 2, "K": None, "source": {"kind": "none"}, "draws": {},
    ...      "modes": {"rounding": "floor", "overflow": "saturate", "sr_rule": "trunc", "E": 0},
    ...      "ports": {"x": {"wl": 8, "fl": 4, "signed": True}, "y": {"wl": 4, "fl": 1, "signed": True}}}
    >>> p = params_of(m)
    >>> p["X_WL"], p["Y_FL"], p["MODE"], p["DRAWS"]
    (8, 1, 2, 0)
    """
    p = {"OP": manifest["operation"], "COUNT": manifest["count"]}
    for port, info in manifest["ports"].items():
        if port in ("seed", "mode", "v"):
            continue
        u = port.upper()
        p.update({f"{u}_WL": info["wl"], f"{u}_FL": info["fl"], f"{u}_SIGNED": int(info["signed"])})
        if "float" in info:
            f = info["float"]
            p.update({f"{u}_EXP_BITS": f["exp_bits"], f"{u}_MAN_BITS": f["man_bits"], f"{u}_BIAS": f["bias"],
                      f"{u}_SUBNORMALS": int(f["subnormals"]), f"{u}_NONFINITE": f["nonfinite"]})
    md = manifest["modes"]
    rnd = manifest["draws"].get("rnd")
    p.update({"ROUNDING": md["rounding"], "OVERFLOW": md["overflow"], "SR_RULE": md["sr_rule"],
              "R": rnd["r"] if rnd else 1, "E": md["E"], "DRAWS": int(rnd is not None),
              "PER_CASE": rnd["per_case"] if rnd else 0})
    if manifest["operation"] == "cast":
        x, y = manifest["ports"]["x"], manifest["ports"]["y"]
        code = f32_unit_mode(md, x, y) if "float" in x or "float" in y else sr_unit_mode(md)
        if code is not None:
            p["MODE"] = code
    if manifest.get("K") is not None:
        p["K"] = manifest["K"]
    src = manifest["source"]
    if src.get("kind") == "lfsr":
        p.update({"LFSR_N": src["n"], "LFSR_MASK": int(src["mask"], 16), "LFSR_FORM": src["form"],
                  "LFSR_RULE": src["rule"], "LFSR_LANES": src["lanes"],
                  "LFSR_SEED": int(src["lane_states"][0], 16)})
    return p


def derived(manifest: dict) -> dict:
    """The parameters a validated manifest without a ``bench`` entry still fixes: every port's
    width, fraction and sign, COUNT, and R when it has draws (a folder from outside: only the
    keys ``_load_manifest`` checked).

    >>> derived({"count": 3, "ports": {"x": {"wl": 8, "fl": 4, "signed": True}}, "draws": {}})
    {'COUNT': 3, 'X_WL': 8, 'X_FL': 4, 'X_SIGNED': 1}
    """
    p = {"COUNT": manifest["count"]}
    for port, info in manifest["ports"].items():
        if port in ("seed", "mode", "v"):
            continue
        u = port.upper()
        p.update({f"{u}_WL": info["wl"], f"{u}_FL": info.get("fl", 0), f"{u}_SIGNED": int(info["signed"])})
    rnd = manifest["draws"].get("rnd")
    if rnd:
        p["R"] = rnd["r"]
    return p


def header_text(params: dict, folder_name="") -> str:
    """params.vh: one ```define FXSIM_<NAME> value`` per parameter (strings quoted, the LFSR's
    mask and seed as sized hex).

    >>> header_text({"ROUNDING": "floor", "R": 1}).splitlines()[2:]
    ['`define FXSIM_ROUNDING "floor"', '`define FXSIM_R 1']
    """
    lines = [f"// params.vh -- written by fxsim export-vectors for the vector folder {folder_name}",
             "// iverilog -I rtl -I <folder> ...: the bench takes every parameter from here."]
    n = params.get("LFSR_N")
    for k, v in params.items():
        if isinstance(v, str):
            text = f'"{v}"'
        elif k in ("LFSR_MASK", "LFSR_SEED") and n:
            text = f"{n}'h{v:x}"
        else:
            text = str(v)
        lines.append(f"`define FXSIM_{k} {text}")
    return "\n".join(lines) + "\n"


def check_params(params, where) -> None:
    """A manifest's ``bench.params`` from outside: identifier keys, integer or short plain
    string values (ValueError naming the key).

    >>> check_params({"R": 8, "FORM": "galois"}, "m.json")
    >>> check_params({"R": "8; $finish"}, "m.json")
    Traceback (most recent call last):
    ValueError: m.json: 'bench.params.R' must be an integer (|v| < 2**64) or a plain string (letters, digits, '_'), got '8; $finish'
    """
    if not isinstance(params, dict):
        raise ValueError(f"{where}: 'bench.params' must be an object")
    for k, v in params.items():
        if not _NAME.match(k):
            raise ValueError(f"{where}: 'bench.params' has a key {k[:40]!r}; keys are upper-case "
                             "identifiers (A-Z, 0-9, '_'; at most 64)")
        ok = (isinstance(v, int) and not isinstance(v, bool) and -(1 << 64) < v < (1 << 64)) or \
             (isinstance(v, str) and _STR.match(v))
        if not ok:
            raise ValueError(f"{where}: 'bench.params.{k}' must be an integer (|v| < 2**64) or a "
                             f"plain string (letters, digits, '_'), got {str(v)[:40]!r}")


def read_echo(path) -> dict:
    """{NAME: int or str} of a bench's ``tb_params.txt`` (``NAME VALUE`` lines; at most 64 KiB;
    ValueError naming the file and line otherwise).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), ECHO)
    >>> with open(p, "w") as f:
    ...     _ = f.write("R 8\\nLFSR_FORM galois\\n")
    >>> read_echo(p)
    {'R': 8, 'LFSR_FORM': 'galois'}
    """
    with open(path, "rb") as fh:
        raw = fh.read(_MAX_ECHO + 1)
    if len(raw) > _MAX_ECHO:
        raise ValueError(f"{path}: larger than {_MAX_ECHO} bytes: not a bench's parameter echo")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not ASCII text: not a bench's parameter echo") from None
    out = {}
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 2 or not _NAME.match(parts[0]):
            raise ValueError(f"{path}:{no}: expected 'NAME VALUE', got {line[:40]!r}")
        v = parts[1] if len(parts) == 2 else ""
        out[parts[0]] = int(v) if re.fullmatch(r"-?[0-9]{1,20}", v) else v
    return out


def compare(echo: dict, params: dict, known_only=False) -> list:
    """[(name, the bench's value, the folder's value)] of every echoed parameter that differs
    (None: the folder does not define it; ``known_only``: skip those).

    >>> compare({"R": 8, "K": 4}, {"R": 8})
    [('K', 4, None)]
    """
    return [(k, v, params.get(k)) for k, v in echo.items()
            if params.get(k) != v and not (known_only and k not in params)]


def echo_next_to(produced) -> str | None:
    """The echo a bench wrote next to its output file, if any.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> echo_next_to(os.path.join(d, "y.mem")) is None
    True
    """
    p = os.path.join(os.path.dirname(os.path.abspath(produced)), ECHO)
    return p if os.path.isfile(p) and not os.path.islink(p) else None
