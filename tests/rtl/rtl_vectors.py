"""Test-vector folders in the format of docs/datapath.md section 7.

A vector set is a folder holding `manifest.json` and one `$readmemh` file per port and per
random stream: one word per line, lower-case hex, two's complement, zero-padded to
ceil(wl/4) digits (ceil(r/4) for draws).

Manifest layout written here (version 1; fxsim's exporter can write the same keys):

    {
      "fxsim_vectors": 1,
      "operation": "cast" | "dot" | "lfsr" | ...,
      "count": <number of cases>,
      "formats": {"x": {"wl": 16, "fl": 12, "signed": true}, ...},
      "modes":   {"rounding": ..., "overflow": ..., "sr_rule": ..., "r": ...},
      "source":  {"kind": "draws"} | {"kind": "lfsr", "n": .., "taps": [..], "mask": "0x..",
                  "form": .., "rule": .., "r": .., "lanes": 1, "seed": "0x.."},
      "ports":   {"x": {"file": "x.mem", "dir": "in", "wl": 16, "signed": true,
                        "words": <count>}, ...},
      "draws":   {"rnd": {"file": "rnd.mem", "r": 8, "words": <count>}},
      ... any extra keys (test-bench parameters etc.)
    }

Only the standard library is used, so the module can be copied next to any test bench.
"""

import json
import os

MANIFEST = "manifest.json"
VERSION = 1


def hex_digits(bits):
    """ceil(bits / 4), the zero-padded width of one word."""
    if bits < 1:
        raise ValueError("a word has at least one bit")
    return (bits + 3) // 4


def word_to_hex(value, wl, signed=True):
    """One word as lower-case two's-complement hex, zero-padded to ceil(wl/4) digits."""
    value = int(value)
    if signed:
        lo, hi = -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    else:
        lo, hi = 0, (1 << wl) - 1
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit {wl} {'signed' if signed else 'unsigned'} bits")
    return format(value & ((1 << wl) - 1), "0%dx" % hex_digits(wl))


def hex_to_word(text, wl, signed=True):
    """Inverse of word_to_hex; rejects x/z digits and words wider than wl."""
    text = text.strip()
    u = int(text, 16)  # raises ValueError on 'x' or 'z'
    if u >> wl:
        raise ValueError(f"{text!r} is wider than {wl} bits")
    if signed and u >> (wl - 1):
        u -= 1 << wl
    return u


def write_mem(path, values, wl, signed=True):
    with open(path, "w", newline="\n") as fh:
        fh.write("".join(word_to_hex(v, wl, signed) + "\n" for v in values))


def read_mem_lines(path):
    """The words of a .mem file as stripped strings (blank lines and // comments dropped)."""
    out = []
    with open(path) as fh:
        for line in fh:
            line = line.split("//", 1)[0].strip()
            if line:
                out.append(line)
    return out


def read_mem(path, wl, signed=True):
    return [hex_to_word(t, wl, signed) for t in read_mem_lines(path)]


def qformat(wl, fl, signed=True):
    return {"wl": int(wl), "fl": int(fl), "signed": bool(signed)}


def write_vector_set(folder, *, operation, count, formats=None, modes=None, source=None,
                     inputs=None, outputs=None, draws=None, extra=None):
    """Write manifest.json and the .mem files.

    inputs / outputs: {port: (values, wl, signed)}; draws: {name: (values, r)}.
    Returns the manifest (a dict).
    """
    os.makedirs(folder, exist_ok=True)
    manifest = {
        "fxsim_vectors": VERSION,
        "operation": operation,
        "count": int(count),
        "formats": formats or {},
        "modes": modes or {},
        "source": source or {},
        "ports": {},
        "draws": {},
    }
    for direction, group in (("in", inputs or {}), ("out", outputs or {})):
        for port, (values, wl, signed) in group.items():
            fname = port + ".mem"
            values = list(values)
            write_mem(os.path.join(folder, fname), values, wl, signed)
            manifest["ports"][port] = {"file": fname, "dir": direction, "wl": int(wl),
                                       "signed": bool(signed), "words": len(values)}
    for name, (values, r) in (draws or {}).items():
        fname = name + ".mem"
        values = list(values)
        write_mem(os.path.join(folder, fname), values, r, signed=False)
        manifest["draws"][name] = {"file": fname, "r": int(r), "words": len(values)}
    if extra:
        for k, v in extra.items():
            if k in manifest:
                raise ValueError(f"extra key {k!r} clashes with the manifest")
            manifest[k] = v
    with open(os.path.join(folder, MANIFEST), "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.write("\n")
    return manifest


def read_vector_set(folder):
    """(manifest, {port or draw name: list of ints}) of a vector folder."""
    with open(os.path.join(folder, MANIFEST)) as fh:
        manifest = json.load(fh)
    data = {}
    for port, info in manifest["ports"].items():
        data[port] = read_mem(os.path.join(folder, info["file"]), info["wl"], info["signed"])
    for name, info in manifest["draws"].items():
        data[name] = read_mem(os.path.join(folder, info["file"]), info["r"], signed=False)
    return manifest, data
