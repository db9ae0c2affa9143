"""Command line: ``fxsim`` alone runs the main job, ``fxsim gd-study`` on its defaults;
``fxsim demo`` shows the datapath at work;
``fxsim export-vectors`` writes an RTL test-vector folder (spec §7) and ``fxsim check-vectors``
compares an RTL output file with it, word for word; ``fxsim compare-rng`` runs the study "LFSR
vs ideal randomness" (``fxsim.studies.compare_rng``); ``fxsim gd-study`` runs gradient descent
with round-to-nearest, SR, SR_ε and signed-SR_ε (``fxsim.studies.gd_rounding``)."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .qformat import QFormat
from .studies import STUDY_MODULES, arg_type, jobs_on, nonneg_int, pos_int, prepare_out_dirs


def demo(args) -> int:
    """``fxsim demo``: formats, every rounding and overflow mode, SR and a saturating MAC,
    printed; returns 0.

    >>> import argparse
    >>> demo(argparse.Namespace(seed=1))
    fxsim 0.1.0: a bit-accurate fixed-point datapath
    <BLANKLINE>
    Format Q(8,4) = QFormat(wl=8, fl=4, signed=True): raw range [-128, 127], values [-8.0, 7.9375], lsb 0.0625, container int8
    ...
    0
    """
    import fxsim
    from fxsim import QFormat, cast

    print(f"fxsim {fxsim.__version__}: a bit-accurate fixed-point datapath\n")
    f = QFormat(8, 4)
    print(f"Format {f} = {f!r}: raw range [{f.min_raw}, {f.max_raw}], values [{f.min}, {f.max}], "
          f"lsb {f.lsb}, container {f.dtype}\n")

    x = np.array([0.40625, -0.40625, 0.03125, -0.09375, 7.97, -9.0])
    print(f"x = {x.tolist()}")
    print(f"{'rounding':<16}" + "".join(f"{v:>10}" for v in x))
    for mode in fxsim.DETERMINISTIC:
        y = cast(x, f, mode, "saturate")
        print(f"{mode:<16}" + "".join(f"{v:>10}" for v in y.to_float()))
    print(f"\nOverflow of 7.97 and -9.0 into {f}:")
    for ovf in ("saturate", "saturate_symmetric", "wrap"):
        y = cast(x[-2:], f, "nearest_even", ovf)
        print(f"  {ovf:<20} {y.to_float().tolist()}  bits {y.to_bin().tolist()}")

    print("\nStochastic rounding of 0.40625 (= 6.5 LSB) with r = 4 bits, every draw R = 0..15:")
    draws = np.arange(16, dtype=np.uint64)
    y = cast(np.full(16, 0.40625), f, "stochastic", r=4, draws=draws)
    print(f"  raw results {y.raw.tolist()} -> mean {y.raw.mean():.4f} LSB (exact 6.5)")

    acc = QFormat(8, 10)
    print(f"\nA saturating MAC: 64 products of {QFormat(8, 8)} words into a {acc} accumulator "
          f"(range [{acc.min}, {acc.max + acc.lsb:g}))")
    rng = np.random.default_rng(args.seed)
    a = cast(rng.uniform(-0.5, 0.5, 64), QFormat(8, 8))
    b = cast(rng.uniform(-0.5, 0.5, 64), QFormat(8, 8))
    with fxsim.Counters() as c:
        exact = fxsim.dot(a, b)
        sat = fxsim.dot(a, b, acc=acc, rounding="nearest_even", overflow="saturate")
    print(f"  exact {float(exact):+.8f} ({exact.fmt}),  saturating accumulator {float(sat):+.8f} ({sat.fmt})")
    print("\nCounters for those operations:\n" + c.summary())
    print(f"\nBit view: {sat.format(bits=True)};  bitstring: {sat.bits().bin}")
    return 0


_fmt_arg = arg_type(QFormat.parse)


def _cast_fmt_arg(text):
    """--in-fmt, --fmt: a QFormat, or a float format's name (bf16, e4m3, e5m2, fp32, E5M10...)."""
    from fxsim import FloatFormat, QFormat
    try:
        return QFormat.parse(text)
    except ValueError as e:
        try:
            return FloatFormat.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{e}; or a float format such as bf16, e4m3, e5m2, "
                                             "fp32, E5M10") from None


def _shape_arg(text):
    from fxsim.vectors import EXPORT_MAX_WORDS
    parts = [p for p in text.replace("x", ",").replace("X", ",").split(",") if p.strip()]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) not in (2, 3) or min(dims) < 1:
        raise argparse.ArgumentTypeError(
            f"expected M,K,N (or M,N with --K), positive integers, each in [1, {EXPORT_MAX_WORDS}] "
            f"(M*K + K*N + M*N words at most {EXPORT_MAX_WORDS}, M*K*N at most 2**30); got {text!r}")
    return dims


def _size_arg(text):
    """--count, --K of export-vectors: a positive integer; the export's size limit
    (``fxsim.vectors.EXPORT_MAX_WORDS``) is checked with the other sizes by export_vectors."""
    from fxsim.vectors import EXPORT_MAX_WORDS
    try:
        v = int(text, 0)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer in [1, {EXPORT_MAX_WORDS}] (an export holds at most "
            f"{EXPORT_MAX_WORDS} = 2**24 words in all its .mem files), got {text!r}")
    return v


def _add_export_parser(sub):
    from fxsim import OVERFLOW, ROUNDING, SR_RULES
    from fxsim.floatcast import FLOAT_OVERFLOW, FLOAT_ROUNDING
    from fxsim.vectors import OPS
    FLOAT_ONLY_ROUNDING = tuple(m for m in FLOAT_ROUNDING if m not in ROUNDING)
    p = sub.add_parser(
        "export-vectors", help="write a test-vector folder (manifest.json + $readmemh .mem files)",
        description="Write OUT/manifest.json and one .mem file per port (x or a, b -> y) and per\n"
                    "random stream (rnd.mem): the inputs, fxsim's expected outputs and the draws,\n"
                    "for an RTL test bench (spec section 7).\n\n"
                    "Size limit: an export holds at most 2**24 = 16777216 words in all its .mem\n"
                    "files together (inputs, outputs, v, seed and draws: at most ~272 MiB of text,\n"
                    "~1.6 GiB of memory while it is built), and a matmul does at most 2**30\n"
                    "multiply-accumulates (M*K*N). A larger --count, --K or --shape is refused\n"
                    "(exit 2, naming the allowed range) before OUT is created or anything drawn.",
        epilog="examples:\n"
               "  fxsim export-vectors vec --op cast --in-fmt 'Q(16,12)' --fmt 'Q(8,4)' "
               "--rounding stochastic --r 8 --source lfsr:16 --count 10000\n"
               "  fxsim export-vectors mac --op dot --a-fmt 'Q(8,4)' --b-fmt 'Q(8,4)' "
               "--acc 'Q(16,8)' --K 16 --overflow saturate",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", metavar="OUT", help="output folder (created; not a symlink)")
    p.add_argument("--op", required=True, choices=OPS, metavar="OP", help="the operation: " + " ".join(OPS))
    p.add_argument("--fmt", type=_cast_fmt_arg, help="output format (required for cast, where it may "
                   "be a float format: bf16, e4m3, e5m2, fp16, E5M10...; others: default full "
                   "precision, or the accumulator's for dot/matmul)")
    p.add_argument("--in-fmt", type=_cast_fmt_arg, help="input format of a cast (a QFormat or a float "
                   "format such as fp32; default of --a-fmt/--b-fmt)")
    p.add_argument("--a-fmt", type=_fmt_arg, help="format of operand a")
    p.add_argument("--b-fmt", type=_fmt_arg, help="format of operand b")
    p.add_argument("--acc", type=_fmt_arg, help="accumulator format (dot, matmul; default exact)")
    p.add_argument("--prod", type=_fmt_arg, help="product format (dot, matmul; default exact)")
    p.add_argument("--K", "-K", dest="K", type=_size_arg, help="length of each dot product (dot), "
                   ">= 1; a and b hold 2*count*K words, all files at most 2**24 (see the size limit)")
    p.add_argument("--shape", type=_shape_arg, help="matmul: M,K,N (A is MxK, B is KxN), each >= 1; "
                   "M*K + K*N + M*N words at most 2**24, M*K*N at most 2**30")
    p.add_argument("--count", type=_size_arg, help="number of cases (default 1000; not for matmul), "
                   ">= 1; all ports' words together at most 2**24 (see the size limit)")
    p.add_argument("--seed", type=nonneg_int, default=1, help="seed of the random input words (default 1)")
    p.add_argument("--rounding", default="nearest_even", choices=ROUNDING + FLOAT_ONLY_ROUNDING,
                   metavar="MODE", help="rounding mode (default nearest_even): " + " ".join(ROUNDING)
                   + "; float casts: " + " ".join(FLOAT_ROUNDING))
    p.add_argument("--overflow", default="saturate", choices=OVERFLOW + ("ieee",), metavar="MODE",
                   help="overflow mode (default saturate): " + " ".join(OVERFLOW)
                   + "; float casts: " + " ".join(FLOAT_OVERFLOW))
    p.add_argument("--r", type=pos_int, help="random bits per draw (stochastic rounding)")
    p.add_argument("--eps", type=float, default=0.0, help="epsilon of the *_eps modes, in [0, 1)")
    p.add_argument("--sr-rule", default="trunc", choices=SR_RULES, metavar="RULE",
                   help="few-bit SR rule (default trunc): " + " ".join(SR_RULES))
    p.add_argument("--source", help="bit source of stochastic rounding: "
                   "lfsr[:N][:galois|fibonacci][:serial|state] or ideal[:pcg64|philox|sfc64|mt19937]")
    p.add_argument("--source-seed", type=nonneg_int,
                   help="seed of the source (LFSR: its starting state, 1..2^N-1); default --seed")
    p.add_argument("--no-edges", dest="edges", action="store_false",
                   help="random words only (no min/max/0/-1/tie cases first)")
    p.add_argument("--bench", action=argparse.BooleanOptionalAction, default=True,
                   help="write params.vh (every parameter as `define FXSIM_<NAME>) and, for a "
                        "cast rtl/sr_unit.v can do, mode.mem, so iverilog -I rtl -I OUT needs no -P "
                        "(the default; --bench is accepted and changes nothing); --no-bench: the "
                        "manifest and the ports' files only")
    p.add_argument("--force", action="store_true",
                   help="replace an earlier fxsim export in OUT (only the files its manifest.json "
                        "lists; other files are left alone)")
    return p


def export_vectors_cmd(args, p) -> int:
    """``fxsim export-vectors``: write a test-vector folder (``fxsim.vectors.export_vectors``);
    argument errors go to ``p.error``; returns 0.

    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "vec")
    >>> main(["export-vectors", d, "--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)",
    ...       "--count", "16"])
    wrote 16 cases of cast (nearest_even) to ...: manifest.json x.mem mode.mem y.mem params.vh
    0
    """
    from fxsim.modes import STOCHASTIC
    from fxsim.vectors import cli_text, export_vectors
    sto = args.rounding in STOCHASTIC
    if sto and args.r is None:
        p.error(f"--rounding {args.rounding} needs --r (random bits per draw, 1..64)")
    if sto and not args.source:
        p.error(f"--rounding {args.rounding} needs --source (e.g. lfsr:16 or ideal:pcg64)")
    if not sto:
        for flag, val in (("--r", args.r), ("--source", args.source), ("--source-seed", args.source_seed)):
            if val is not None:
                p.error(f"{flag} is only used with stochastic rounding "
                        f"({', '.join(STOCHASTIC)}), not --rounding {args.rounding}")
    if args.eps and args.rounding not in ("stochastic_eps", "signed_stochastic_eps"):
        p.error("--eps is only used with --rounding stochastic_eps or signed_stochastic_eps")
    if args.op == "cast" and args.fmt is None:
        p.error("--op cast needs --fmt (the output format)")
    try:
        m = export_vectors(
            args.out, args.op, count=args.count, seed=args.seed, fmt=args.fmt, in_fmt=args.in_fmt,
            a_fmt=args.a_fmt, b_fmt=args.b_fmt, acc=args.acc, prod=args.prod, K=args.K,
            shape=args.shape, rounding=args.rounding, overflow=args.overflow, r=args.r,
            eps=args.eps, sr_rule=args.sr_rule, source=args.source, source_seed=args.source_seed,
            edges=args.edges, overwrite=args.force, bench=args.bench)
    except (ValueError, OverflowError, OSError) as e:
        if isinstance(e, OSError) and e.strerror:      # the system's refusal (permissions, a full disk)
            where = "" if e.filename in (None, args.out) else f" ({e.filename})"
            msg = f"cannot write {args.out}: {e.strerror}{where}"
        else:
            msg = cli_text(e)                            # FileExistsError: speaks of --force
        if args.source and args.source_seed is None and "seed must be" in msg:
            msg += " (--seed also seeds the source unless --source-seed is given)"
        p.error(msg)
    files = [i["file"] for i in m["ports"].values()] + [i["file"] for i in m["draws"].values()]
    files += [m["bench"]["header"]] if "bench" in m else []
    src = m["source"]
    how = args.rounding + (f", r={args.r}, source {src['kind']}" if sto else "")
    print(f"wrote {m['count']} cases of {args.op} ({how}) to {args.out}: manifest.json {' '.join(files)}")
    return 0


def check_vectors_cmd(args, p) -> int:
    """``fxsim check-vectors``: compare an RTL output file with an exported folder; returns 0
    when every word matches, else 1.

    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "vec")
    >>> _ = main(["export-vectors", d, "--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)"])
    wrote ...
    >>> main(["check-vectors", d, os.path.join(d, "y.mem")])
    y: all 1000 words match (.../y.mem)
    0
    """
    from fxsim.vectors import cli_text, check_outputs
    try:
        rep = check_outputs(args.folder, args.produced, port=args.port)
    except (ValueError, OSError) as e:   # a malformed folder, a file outside it, an unknown port
        p.error(cli_text(e))
    print(rep)
    return 0 if rep.ok else 1


#: ``fxsim --help``: plain text (no markup)
HELP_TEXT = """fxsim: a bit-accurate fixed-point hardware datapath.

fxsim with no command runs the main job: the gradient-descent study (gd-study) on its
defaults. fxsim demo walks through the datapath; the other commands write RTL test
vectors, run the other studies, sweeps and plots."""

#: the first line ``fxsim`` with no command prints
MAIN_JOB_LINE = ("fxsim: running the main job, gradient descent with round-to-nearest and "
                 "stochastic rounding on the emulated datapath (fxsim gd-study; about 1 min "
                 "on 2 idle cores) -> results/gd_study")


def gd_study_cmd(args) -> int:
    """The main job (``fxsim`` with no sub-command): the gradient-descent study on its defaults
    (``fxsim.studies.gd_rounding``), its table printed.

    >>> main([])     # doctest: +SKIP
    """
    from .studies import gd_rounding
    return gd_rounding.command(args)


def main(argv=None) -> int:
    """The ``fxsim`` command: parse ``argv`` (default ``sys.argv[1:]``), run the sub-command
    and return its exit code; no sub-command runs the main job (``gd-study``).

    >>> main(["demo"])            # doctest: +ELLIPSIS
    fxsim 0.1.0: a bit-accurate fixed-point datapath
    ...
    0
    """
    import importlib

    import fxsim
    parser = argparse.ArgumentParser(prog="fxsim", description=HELP_TEXT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fxsim {fxsim.__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND",
                                help="one of the sub-commands below (fxsim COMMAND --help "
                                     "for its options)")
    p = sub.add_parser("demo", help="show formats, every rounding and overflow mode, SR and a MAC")
    p.add_argument("--seed", type=nonneg_int, default=1, help="seed of the MAC's random inputs "
                   "(a non-negative integer, default 1)")
    p.set_defaults(run=demo)
    pe = _add_export_parser(sub)
    pe.set_defaults(run=lambda a: export_vectors_cmd(a, pe))
    pc = sub.add_parser("check-vectors", help="compare an RTL output file with an exported folder",
                        description="Compare PRODUCED (one hex word per line) with the expected "
                                    "output port of FOLDER, word for word: PRODUCED must hold "
                                    "the manifest's count of words of the port's width; exit 1 "
                                    "on a mismatch, 2 on a malformed folder.")
    pc.add_argument("folder", metavar="FOLDER", help="the folder fxsim export-vectors wrote")
    pc.add_argument("produced", metavar="PRODUCED", help="the RTL's output file (one hex word "
                    "per line)")
    pc.add_argument("--port", help="output port (default: the one PRODUCED is named after, "
                    "e.g. y.mem or y_rtl.mem)")
    pc.set_defaults(run=lambda a: check_vectors_cmd(a, pc))
    from . import rtlgen
    rtlgen.add_cli(sub)
    for name in STUDY_MODULES:
        importlib.import_module(name).add_cli(sub)
    importlib.import_module("fxsim.sweep.command").add_cli(sub)     # fxsim sweep, fxsim plot
    args = parser.parse_args(argv)
    if args.cmd is None:          # the main job: the gradient-descent study on its defaults
        args = parser.parse_args(["gd-study"])
        args.run = gd_study_cmd
        print(MAIN_JOB_LINE, flush=True)
    if argv is None:                # the command line itself (not a call from Python)
        _watch_interrupts()
    return _run(args, sub.choices[args.cmd])


#: seconds a command interrupted by Ctrl-C may take to stop its workers and exit
STOP_GRACE = 45


def _watch_interrupts():
    """Ctrl-C raises KeyboardInterrupt as usual and also starts a clock: a command that has not
    ended ``STOP_GRACE`` s later (a cluster's close or the interpreter's exit stuck on a thread)
    is ended with exit code 130, after printing why and every thread's stack for a bug report.
    Only for the command line (``main()`` without ``argv``), in the main thread."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigint(signum, frame):
        if not getattr(on_sigint, "clock", None):
            on_sigint.clock = threading.Timer(STOP_GRACE, _end_stuck_command)
            on_sigint.clock.daemon = True
            on_sigint.clock.start()
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_sigint)


def _end_stuck_command():
    import faulthandler
    import os
    print(f"fxsim: interrupted, but the command did not end within {STOP_GRACE} s; ending it "
          "(the threads' stacks follow, for a bug report)", file=sys.stderr, flush=True)
    try:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    finally:
        os._exit(130)


def _run(args, p) -> int:
    """Run a parsed sub-command: its output folders are checked before it starts, a ValueError
    (a library check of an argument) exits 2 with one line through ``p.error``, Ctrl-C exits
    130 with ``fxsim: interrupted``; any other exception is a bug and keeps its traceback.
    ``FXSIM_DEBUG=1`` shows the traceback of a ValueError too."""
    import os
    try:
        try:
            prepare_out_dirs((opt, getattr(args, dest, None))
                                     for opt, dest in getattr(args, "_out_dirs", ()))
            with jobs_on(getattr(args, "scheduler", None)):     # a study's --scheduler ADDRESS
                return args.run(args)
        except ValueError as e:
            if os.environ.get("FXSIM_DEBUG"):
                raise
            p.error(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except KeyboardInterrupt:
        _clear_progress_bars()
        print("fxsim: interrupted", file=sys.stderr)
        return 130


def _clear_progress_bars():
    """Erase the progress bars an interrupted study left open (else tqdm redraws them after
    the last message, at exit)."""
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)
    for bar in list(getattr(tqdm, "_instances", None) or ()):
        bar.leave = False
        try:
            bar.close()
        except Exception:         # a bar that cannot be closed is no reason to fail the exit
            pass


if __name__ == "__main__":
    sys.exit(main())
