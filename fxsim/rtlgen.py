"""RTL from the same description: a synthesizable Verilog SR unit with its LFSRs, configured
exactly as a ``CastMode`` and a source spec, with its bench and vector folder.

``generate(folder, name, in_fmt, out_fmt, mode, source, seed, count)`` writes

* ``<name>.v``: module ``<name>`` (ports ``clk``, ``load``, ``en``, ``x`` of ``lanes`` words,
  ``y`` of ``lanes`` words; lane k holds element k of the clock), one rounding unit per lane and,
  for a stochastic mode, module ``<name>_lfsr`` per lane (the source's length, taps, form and draw
  rule, seeded on ``load`` with the lane's state of ``make_source(source, seed)``).  Element e
  of a vector set goes to lane e mod lanes, as fxsim's draw e comes from lane e mod lanes;
* ``tb_<name>.v``: a bench that reads ``vec/x.mem`` and writes ``out/y.mem`` and its parameter
  echo ``out/tb_params.txt``;
* ``vec/``: ``export_vectors(..., bench=True)`` of the same cast (inputs, fxsim's outputs,
  draws, ``params.vh``).

Supported (else a ValueError naming the parameter): signed input and output formats with
FO < FI; rounding ``floor``, ``ceil``, ``toward_zero``, ``nearest_up``, ``nearest_even`` or
``stochastic`` (sr_rule ``trunc``, ``half``, ``rne``, ``ge`` or ``tt_sfpu``; r = 1..64); overflow ``saturate`` or
``wrap``; an ``lfsr`` source (any length, taps, form, rule and lanes of ``fxsim.make_source``).
"""
from __future__ import annotations

import os
import re
import secrets

from .modes import CastMode
from .qformat import QFormat, qformat
from .sources import LFSR
from .studies import arg_type, nonneg_int, pos_int
from . import vectors

__all__ = ["generate", "ROUNDINGS", "OVERFLOWS", "top_text", "bench_text", "commands", "add_cli"]

ROUNDINGS = ("floor", "ceil", "toward_zero", "nearest_up", "nearest_even", "stochastic")
OVERFLOWS = ("saturate", "wrap")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _check(in_fmt, out_fmt, mode: CastMode, src):
    fi, fo = qformat(in_fmt), qformat(out_fmt)
    if not (fi.signed and fo.signed):
        raise ValueError(f"in_fmt/out_fmt: rtl-gen makes signed units; got {fi} -> {fo}")
    if not fo.fl < fi.fl:
        raise ValueError(f"out_fmt: its fraction length must be below the input's ({fi.fl}), got {fo.fl}")
    if mode.rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)} for rtl-gen, got {mode.rounding!r}")
    if mode.overflow not in OVERFLOWS:
        raise ValueError(f"overflow must be one of {', '.join(OVERFLOWS)} for rtl-gen, got {mode.overflow!r}")
    if mode.stochastic and not isinstance(src, LFSR):
        raise ValueError("source: rtl-gen builds the unit's own LFSR; give an lfsr spec "
                         "(lfsr[:N][:galois|fibonacci][:serial|state][:lanes=L])")
    return fi, fo


def _lfsr_module(name, src: LFSR, r) -> str:
    n, mask = src.n, src.mask
    steps = r if src.rule == "serial" else 1
    if src.form == "galois":
        step = f"b = nxt[0]; nxt = (nxt >> 1) ^ (b ? {n}'h{mask:x} : {n}'h0);"
    else:
        step = f"b = nxt[{n - 1}]; f = ^(nxt & {n}'h{mask:x}); nxt = (nxt << 1) | f;"
    draw = "outbits" if src.rule == "serial" else f"nxt[{r - 1}:0]"
    return f"""// {name}: fxsim LFSR n={n}, taps {list(src.taps)}, {src.form}, rule {src.rule}, r={r}
module {name} (
    input  wire           clk,
    input  wire           load,
    input  wire [{n - 1}:0]    seed,
    input  wire           en,
    output wire [{r - 1}:0]    draw
);
    reg [{n - 1}:0] state, nxt;
    reg [{r - 1}:0] outbits;
    reg b, f;
    integer i;
    always @* begin
        nxt = state;
        outbits = {{{r}{{1'b0}}}};
        f = 1'b0;
        for (i = 0; i < {steps}; i = i + 1) begin
            {step}
            outbits = (outbits << 1) | b;
        end
    end
    assign draw = {draw};
    always @(posedge clk)
        if (load) state <= seed;
        else if (en) state <= nxt;
endmodule
"""


def _up_logic(mode: CastMode, S: int) -> str:
    """Verilog of ``up`` (round to q + 1) from q, d (S discarded bits), xe and, for SR, R."""
    rest = f"(|d[{S - 2}:0])" if S >= 2 else "1'b0"
    if mode.rounding == "floor":
        return "        assign up = 1'b0;\n"
    if mode.rounding == "ceil":
        return "        assign up = |d;\n"
    if mode.rounding == "toward_zero":
        return "        assign up = xe[WE-1] & (|d);\n"
    if mode.rounding == "nearest_up":
        return f"        assign up = d[{S - 1}];\n"
    if mode.rounding == "nearest_even":
        return f"        assign up = d[{S - 1}] & ({rest} | q[0]);\n"
    r = mode.r
    if mode.sr_rule in ("ge", "tt_sfpu"):
        return _ge_logic(mode.sr_rule, r, S)
    if S >= r + 1:
        dx = f"d[{S - 1}:{S - r - 1}]"
        sticky = f"(|d[{S - r - 2}:0])" if S >= r + 2 else "1'b0"
    else:
        dx = f"{{d, {r + 1 - S}'b0}}"
        sticky = "1'b0"
    a = {"trunc": f"{{1'b0, Dx[{r}:1], 1'b0}}",
         "half": f"{{1'b0, Dx}} + {r + 2}'d1",
         "rne": f"{{({{1'b0, Dx[{r}:1]}} + (Dx[0] & (sticky | Dx[1]))), 1'b0}}"}[mode.sr_rule]
    return (f"        wire [{r}:0] Dx = {dx};          // floor(phi * 2^(r+1))\n"
            f"        wire sticky = {sticky};\n"
            f"        wire [{r + 1}:0] A = {a};   // sr_rule {mode.sr_rule}\n"
            f"        wire [{r + 2}:0] sum = {{1'b0, A}} + {{2'b0, R, 1'b0}};\n"
            f"        assign up = |sum[{r + 2}:{r + 1}];      // A + 2R >= 2^(r+1)\n")


def _ge_logic(rule: str, r: int, S: int) -> str:
    """Verilog of ``up`` for sr_rule 'ge' (D >= R, never for an exact value) or 'tt_sfpu'
    (Tenstorrent SFPSTOCHRND: the magnitude's top r discarded bits Dm >= R, exact values too;
    ``dn`` takes an exact negative value to q - 1), spec §2."""
    dtop = f"d[{S - 1}:{S - r}]" if S >= r else f"{{d, {r - S}'b0}}"
    low = f"(|d[{S - r - 1}:0])" if S > r else "1'b0"
    text = (f"        wire [{r - 1}:0] D = {dtop};          // top r discarded bits\n"
            f"        wire exact = ~(|d);\n")
    if rule == "ge":
        return text + "        assign up = ~exact & (D >= R);\n"
    return text + (
        f"        wire neg = xe[WE-1];\n"
        f"        wire low = {low};               // discarded bits below the top r\n"
        f"        // Dm = floor(frac(|x|) * 2^r): D, or 2^r - ceil(phi * 2^r) for a negative inexact x\n"
        f"        wire [{r}:0] Dm = (neg & ~exact) ? ({{1'b1, {r}'d0}} - {{1'b0, D}} - {{{r}'d0, low}}) : {{1'b0, D}};\n"
        f"        wire mag_up = Dm >= {{1'b0, R}};   // SFPSTOCHRND: (Mag & 0x7fffff) >= PRNGBits\n"
        f"        assign up = neg ? (~exact & ~mag_up) : mag_up;\n"
        f"        wire dn = neg & exact & mag_up;\n")


def top_text(name, in_fmt, out_fmt, mode, source=None) -> str:
    """The Verilog of module ``name`` (and ``name_lfsr``) for this cast; ``source``: an
    ``fxsim.LFSR`` at the lanes' starting states (stochastic modes).

    >>> v = top_text("rne8", "Q(16,12)", "Q(8,4)", "nearest_even")
    >>> v.splitlines()[3], "assign up = d[7] & ((|d[6:0]) | q[0]);" in v
    ('module rne8 (', True)
    """
    mode = CastMode.of(mode)
    fi, fo = _check(in_fmt, out_fmt, mode, source)
    S = fi.fl - fo.fl
    WE = max(fi.wl, S) + 2
    W2 = max(WE, fo.wl) + 2
    sto = mode.stochastic
    lanes = source.lanes if sto else 1
    r = mode.r if sto else 1
    head = (f"// {name}.v -- written by fxsim rtl-gen: cast Q({fi.wl},{fi.fl}) -> Q({fo.wl},{fo.fl}), "
            f"{mode!r}" + (f", source {source!r}, {lanes} lane(s)" if sto else "") +
            "\n// Synthesizable; one rounding unit per lane, lane k = bits [k*W +: W] of x and y.\n"
            "`timescale 1ns/1ps\n")
    seeds = ""
    lfsr = ""
    if sto:
        states = source.state["lane_states"]
        seeds = "".join(f"    localparam [{source.n - 1}:0] SEED{k} = {source.n}'h{s:x};\n"
                        for k, s in enumerate(states))
        lfsr = _lfsr_module(name + "_lfsr", source, r)
    sat = ("        assign y[k*WO +: WO] = (qr > maxv) ? maxv[WO-1:0] : (qr < minv) ? minv[WO-1:0] : qr[WO-1:0];\n"
           if mode.overflow == "saturate" else "        assign y[k*WO +: WO] = qr[WO-1:0];\n")
    draw = ""
    dn = " - {{(W2-1){1'b0}}, dn}" if sto and mode.sr_rule == "tt_sfpu" else ""
    if sto:
        sel = " :\n                        ".join(f"(k == {k}) ? SEED{k}" for k in range(lanes - 1))
        seed_expr = (sel + " :\n                        " if sel else "") + f"SEED{lanes - 1}"
        draw = (f"        wire [{source.n - 1}:0] seed = {seed_expr};\n"
                f"        wire [{r - 1}:0] R;\n"
                f"        {name}_lfsr u_lfsr (.clk(clk), .load(load), .seed(seed), .en(en), .draw(R));\n")
    return head + f"""module {name} (
    input  wire                  clk,
    input  wire                  load,   // synchronous: every lane's LFSR <= its seed
    input  wire                  en,     // advance every lane's LFSR to its next draw
    input  wire [{lanes * fi.wl - 1}:0] x,
    output wire [{lanes * fo.wl - 1}:0] y
);
    localparam integer LANES = {lanes};
    localparam integer WI = {fi.wl}, FI = {fi.fl}, WO = {fo.wl}, FO = {fo.fl};
    localparam integer S  = {S};               // discarded bits
    localparam integer WE = {WE};
    localparam integer W2 = {W2};
{seeds}    genvar k;
    generate for (k = 0; k < LANES; k = k + 1) begin : lane
{draw}        wire signed [WI-1:0] xl = x[k*WI +: WI];
        wire signed [WE-1:0] xe = xl;
        wire signed [WE-1:0] q  = xe >>> S;      // floor(x / 2^S)
        wire        [S-1:0]  d  = xe[S-1:0];     // discarded bits
        wire up;
{_up_logic(mode, S)}        wire signed [W2-1:0] qw   = q;
        wire signed [W2-1:0] qr   = qw + {{{{(W2-1){{1'b0}}}}, up}}{dn};
        wire signed [W2-1:0] one  = {{{{(W2-1){{1'b0}}}}, 1'b1}};
        wire signed [W2-1:0] maxv = (one <<< (WO - 1)) - one;
        wire signed [W2-1:0] minv = -(one <<< (WO - 1));
{sat}    end endgenerate
endmodule
""" + ("\n" + lfsr if lfsr else "")


def bench_text(name, in_fmt, out_fmt, mode, source=None) -> str:
    """tb_<name>.v: reads COUNT (params.vh) words of x.mem, feeds ``lanes`` a clock, writes
    y.mem and tb_params.txt (what the top was generated for).

    >>> b = bench_text("u", "Q(8,4)", "Q(4,1)", "floor")
    >>> '`include "params.vh"' in b, 'ROUNDING floor' in b
    (True, True)
    """
    mode = CastMode.of(mode)
    fi, fo = _check(in_fmt, out_fmt, mode, source)
    sto = mode.stochastic
    lanes = source.lanes if sto else 1
    echo = [("X_WL", fi.wl), ("X_FL", fi.fl), ("X_SIGNED", 1), ("Y_WL", fo.wl), ("Y_FL", fo.fl),
            ("Y_SIGNED", 1), ("ROUNDING", mode.rounding), ("OVERFLOW", mode.overflow)]
    if sto:
        echo += [("SR_RULE", mode.sr_rule), ("R", mode.r), ("LFSR_N", source.n), ("LFSR_MASK", source.mask),
                 ("LFSR_FORM", source.form), ("LFSR_RULE", source.rule), ("LFSR_LANES", lanes),
                 ("LFSR_SEED", source.state["lane_states"][0])]
    lines = "".join(f'        $fwrite(fd, "{k} {v}\\n");\n' for k, v in echo)
    return f"""// tb_{name}.v -- written by fxsim rtl-gen: the bench of {name}.v.
// iverilog -g2005 -I <vec> -o tb.vvp tb_{name}.v {name}.v; vvp -n tb.vvp +vectors=<vec> +out=<out>
`timescale 1ns/1ps
module tb_{name};
`include "params.vh"
    localparam integer COUNT = `FXSIM_COUNT;
    localparam integer LANES = {lanes}, WI = {fi.wl}, WO = {fo.wl};
    reg  [WI-1:0]        x_mem [0:COUNT-1];
    reg                  clk = 1'b0, load = 1'b0, en = 1'b0;
    reg  [LANES*WI-1:0]  x = {{(LANES*WI){{1'b0}}}};
    wire [LANES*WO-1:0]  y;
    reg  [8*960-1:0]     vdir, odir;     // at most 960 characters (8192-bit $display limit)
    reg  [8*1024-1:0]    fname;
    reg  [LANES*WI-1:0]  xb;             // built whole, then x = xb (Verilator 5.006 missed
    integer              i, k, fd;     // a part-select write to x in the timed loop)

    {name} dut (.clk(clk), .load(load), .en(en), .x(x), .y(y));

    task tick; begin #1 clk = 1'b1; #1 clk = 1'b0; end endtask

    initial begin
        vdir = "."; odir = ".";
        if ($value$plusargs("vectors=%s", vdir)) ;
        if ($value$plusargs("out=%s", odir)) ;
        $sformat(fname, "%0s/tb_params.txt", odir);
        fd = $fopen(fname, "w");
        if (fd == 0) begin $display("ERROR: cannot open %0s", fname); $finish; end
{lines}        $fwrite(fd, "COUNT %0d\\n", COUNT);
        $fclose(fd);
        $sformat(fname, "%0s/x.mem", vdir);
        $readmemh(fname, x_mem);
        $sformat(fname, "%0s/y.mem", odir);
        fd = $fopen(fname, "w");
        if (fd == 0) begin $display("ERROR: cannot open %0s", fname); $finish; end
        load = 1'b1; tick; load = 1'b0;
        for (i = 0; i < COUNT; i = i + LANES) begin
            for (k = 0; k < LANES; k = k + 1)
                xb[k*WI +: WI] = (i + k < COUNT) ? x_mem[i + k] : {{WI{{1'b0}}}};
            x = xb;
            #1;
            if (^x === 1'bx) begin $display("ERROR: undefined input at case %0d", i); $finish; end
            for (k = 0; k < LANES; k = k + 1)
                if (i + k < COUNT) $fwrite(fd, "%h\\n", y[k*WO +: WO]);
            en = 1'b1; tick; en = 1'b0;
        end
        $fclose(fd);
        $display("DONE %0d", COUNT);
        $finish;
    end
endmodule
"""


def commands(folder, name) -> list:
    """The shell commands that simulate the generated folder and check it.

    >>> commands("gen", "sr_top")[2]
    'fxsim check-vectors gen/vec gen/out/y.mem'
    """
    f = folder.rstrip("/")
    return [f"iverilog -g2005 -I {f}/vec -o {f}/tb.vvp {f}/tb_{name}.v {f}/{name}.v",
            f"mkdir -p {f}/out && vvp -n {f}/tb.vvp +vectors={f}/vec +out={f}/out",
            f"fxsim check-vectors {f}/vec {f}/out/y.mem"]


def generate(folder, name="sr_top", in_fmt="Q(16,12)", out_fmt="Q(8,4)", mode=None,
             source="lfsr:16", seed=1, count=1000, inputs=None, overwrite=False) -> dict:
    """Write ``<name>.v``, ``tb_<name>.v`` and ``vec/`` into ``folder`` (see the module's
    docstring); returns the vector manifest.  ``mode``: a ``CastMode`` (or what
    ``CastMode.of`` takes; default nearest_even, saturate); ``source``/``seed``: the LFSR spec
    and its starting state (``fxsim.vectors.make_source``); ``inputs``: raw words (default
    random words with edge cases, from ``seed``).

    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "gen")
    >>> m = generate(d, "sr8", "Q(16,12)", "Q(8,4)", {"rounding": "stochastic", "r": 8},
    ...              source="lfsr:16:lanes=2", seed=3, count=64)
    >>> sorted(os.listdir(d)), m["source"]["lanes"], m["bench"]["params"]["LFSR_SEED"]
    (['sr8.v', 'tb_sr8.v', 'vec'], 2, 3)
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"name must be a Verilog identifier (letters, digits, '_'; at most 64), got {name!r}")
    mode = CastMode() if mode is None else CastMode.of(mode)
    fi, fo = qformat(in_fmt), qformat(out_fmt)
    src = vectors.make_source(source, seed) if mode.stochastic else None
    _check(fi, fo, mode, src)
    folder = os.fspath(folder)
    if os.path.islink(folder):
        raise FileExistsError(f"{folder} is a symlink; rtl-gen writes only into a real folder")
    files = {f"{name}.v": top_text(name, fi, fo, mode, src.copy() if src else None),
             f"tb_{name}.v": bench_text(name, fi, fo, mode, src.copy() if src else None)}
    for f in files:
        p = os.path.join(folder, f)
        if os.path.lexists(p) and (os.path.islink(p) or not overwrite):
            raise FileExistsError(f"{p} exists; " + ("it is a symlink" if os.path.islink(p) else
                                                     "pass overwrite=True (--force) to replace it"))
    kw = {"mode": mode}
    if mode.stochastic:
        kw["source"] = src
    if inputs is not None:
        from .fixed import FixedArray
        import numpy as np
        kw["inputs"] = FixedArray(np.array([int(v) for v in inputs], dtype=object).astype(fi.dtype), fi)
    else:
        kw["count"] = count
        kw["in_fmt"] = fi
    m = vectors.export_vectors(os.path.join(folder, "vec"), "cast", fmt=fo, seed=seed,
                               overwrite=overwrite, bench=True, **kw)
    for f, text in files.items():          # a new temporary file, renamed into place: never through a link
        tmp = os.path.join(folder, f".{f}.{secrets.token_hex(6)}.fxsim-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, os.path.join(folder, f))
    return m


# -- fxsim rtl-gen -----------------------------------------------------------------------------


def add_cli(sub):
    """Register ``fxsim rtl-gen`` on the argparse sub-parsers ``sub``.

    >>> import argparse, os, tempfile
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> d = os.path.join(tempfile.mkdtemp(), "gen")
    >>> a = add_cli(sub).parse_args([d, "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)", "--count", "16"])
    >>> a.run(a)
    wrote .../sr_top.v, .../tb_sr_top.v and .../vec (16 cases); simulate and check with:
      iverilog -g2005 -I .../vec -o .../tb.vvp .../tb_sr_top.v .../sr_top.v
    ...
    0
    """
    from .modes import SR_RULES
    p = sub.add_parser("rtl-gen", help="write a Verilog SR unit + LFSR, its bench and vectors",
                       description="Write OUT/NAME.v (a synthesizable rounding unit with its LFSRs, "
                                   "configured as the cast and source given), OUT/tb_NAME.v and "
                                   "OUT/vec (export-vectors of the same cast), and print "
                                   "the commands that simulate and check it.")
    p.add_argument("out", metavar="OUT", help="output folder (created)")
    p.add_argument("--name", default="sr_top", help="module name (default sr_top)")
    p.add_argument("--in-fmt", type=arg_type(QFormat.parse), required=True, help="input format (signed)")
    p.add_argument("--fmt", type=arg_type(QFormat.parse), required=True, help="output format (signed, fl below the input's)")
    p.add_argument("--rounding", default="nearest_even", choices=ROUNDINGS, metavar="MODE",
                   help="rounding (default nearest_even): " + " ".join(ROUNDINGS))
    p.add_argument("--overflow", default="saturate", choices=OVERFLOWS, metavar="MODE",
                   help="overflow (default saturate): " + " ".join(OVERFLOWS))
    p.add_argument("--r", type=pos_int, help="random bits per draw (stochastic)")
    p.add_argument("--sr-rule", default="trunc", choices=SR_RULES, metavar="RULE",
                   help="few-bit SR rule (default trunc): " + " ".join(SR_RULES))
    p.add_argument("--source", default="lfsr:16", help="LFSR spec lfsr[:N][:galois|fibonacci]"
                   "[:serial|state][:lanes=L] (stochastic; default lfsr:16)")
    p.add_argument("--seed", type=nonneg_int, default=1, help="the LFSR's starting state and the "
                   "inputs' seed (default 1)")
    p.add_argument("--count", type=pos_int, default=1000, help="vectors (default 1000)")
    p.add_argument("--force", action="store_true", help="replace an earlier rtl-gen output in OUT")
    p.set_defaults(run=lambda a: _command(a, p))
    return p


def _command(args, p) -> int:
    sto = args.rounding == "stochastic"
    if sto != (args.r is not None):
        p.error("--r is needed with --rounding stochastic, and only then")
    try:
        mode = CastMode(args.rounding, args.overflow, args.r, 0, args.sr_rule)
        m = generate(args.out, args.name, args.in_fmt, args.fmt, mode, source=args.source,
                     seed=args.seed, count=args.count, overwrite=args.force)
    except (ValueError, OSError) as e:
        p.error(vectors.cli_text(e))
    print(f"wrote {args.out}/{args.name}.v, {args.out}/tb_{args.name}.v and {args.out}/vec "
          f"({m['count']} cases); simulate and check with:")
    print("\n".join("  " + c for c in commands(args.out, args.name)))
    return 0
