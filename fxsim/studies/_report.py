"""Helpers shared by the studies: numbers and markdown tables, web-size figure copies, the
progress bar, the command-line options every study sub-command has (with the check of its
output folders before a study starts) and the worker-process pool."""
import contextlib
import math
import os
import signal
import sys
import tempfile


def fmt_number(v, digits=3, fixed_from=1e-3):
    """A compact number for a table: "—" for missing, "0", %g between ``fixed_from`` and 1e4,
    else scientific notation.

    >>> fmt_number(None), fmt_number(0), fmt_number(0.012345), fmt_number(123456.0), fmt_number(1e-5)
    ('—', '0', '0.0123', '1.23e+05', '1.00e-05')
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v == 0:
        return "0"
    if fixed_from <= abs(v) < 1e4:
        return f"{v:.{digits}g}"
    return f"{v:.{digits - 1}e}"


def markdown_table(header, body) -> str:
    """A markdown table from a header row and body rows (cells converted with ``str``).

    >>> print(markdown_table(["mode", "bias"], [["RN", 0], ["SR", "1e-5"]]))
    | mode | bias |
    |---|---|
    | RN | 0 |
    | SR | 1e-5 |
    """
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(out)


def small_png(src, dst, max_width=1500):
    """A web-sized copy of a figure: at most ``max_width`` pixels wide, an adaptive 256-colour
    palette (the plots use few colours), optimized; returns its size in bytes.

    >>> import os, tempfile
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> d = tempfile.mkdtemp(); src, dst = os.path.join(d, "a.png"), os.path.join(d, "b.png")
    >>> fig = plt.figure(figsize=(20, 2), dpi=100); fig.savefig(src); plt.close(fig)
    >>> n = small_png(src, dst)
    >>> from PIL import Image
    >>> Image.open(dst).size, n == os.path.getsize(dst)
    ((1500, 150), True)
    """
    from PIL import Image
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
        im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            dst, optimize=True)
    return os.path.getsize(dst)


def copy_figures(files: dict, dst_dir, max_width=1400) -> dict:
    """Write a web-size copy (``small_png``) of every ``files["<name>_png"]`` into ``dst_dir``
    (created if missing), record it as ``files["<name>_small_png"]`` and return ``files``.

    >>> import os, tempfile, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "fig.png")
    >>> fig = plt.figure(figsize=(2, 1)); fig.savefig(src); plt.close(fig)
    >>> files = copy_figures({"fig_png": src}, os.path.join(d, "web"))
    >>> os.path.relpath(files["fig_small_png"], d)
    'web/fig.png'
    """
    os.makedirs(dst_dir, exist_ok=True)
    for k in [k for k in files if k.endswith("_png") and not k.endswith("_small_png")]:
        dst = os.path.join(dst_dir, os.path.basename(files[k]))
        small_png(files[k], dst, max_width=max_width)
        files[k[:-len("_png")] + "_small_png"] = dst
    return files


def progress_bar(total: int, desc: str, enabled: bool = True, **kw):
    """A tqdm progress bar on stderr, or None when ``enabled`` is false.

    >>> progress_bar(10, "study", enabled=False) is None
    True
    """
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True, **kw)


def add_study_options(p, out: str, quick_help: str, seed_help: str = "root seed of every run"):
    """Add the options every study sub-command has: ``--out`` (default ``out``), ``--quick``,
    ``--seed`` (non-negative), ``--no-progress`` and ``--copy-figures DIR``; returns ``p``.

    >>> import argparse
    >>> p = add_study_options(argparse.ArgumentParser(), "results/x", "small run")
    >>> a = p.parse_args(["--quick", "--seed", "3"]); a.out, a.quick, a.seed, a.progress
    ('results/x', True, 3, True)
    """
    from ..cli import _nonneg_int
    p.add_argument("--out", default=out, help=f"output folder (default {out})")
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--seed", type=_nonneg_int, default=0, help=f"{seed_help} (default 0)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument("--copy-figures", metavar="DIR",
                   help="also write web-sized copies of the figures into DIR (e.g. docs/figures)")
    p.set_defaults(_out_dirs=(("--out", "out"), ("--copy-figures", "copy_figures")))
    return p


def prepare_out_dirs(dirs) -> list:
    """Create each folder of ``dirs`` (pairs (option, path); path None = not given) with its
    missing parents and check that a file can be written in it, before a study starts.  On a
    failure, remove the folders this call made and raise one ValueError naming the option;
    returns the folders made.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "file"); open(f, "w").close()
    >>> made = prepare_out_dirs([("--out", os.path.join(d, "a", "b"))])
    >>> [os.path.relpath(m, d) for m in made]
    ['a', 'a/b']
    >>> prepare_out_dirs([("--out", os.path.join(f, "out"))])
    Traceback (most recent call last):
    ...
    ValueError: --out .../file/out: cannot create this folder (Not a directory)
    """
    made = []
    try:
        for option, path in dirs:
            if path is not None:
                _prepare_dir(option, os.fspath(path), made)
    except ValueError:
        for d in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        raise
    return made


def _prepare_dir(option, path, made):
    """Make ``path`` (appending each folder made to ``made``) and check it is writable."""
    if not path:
        raise ValueError(f"{option}: expected a folder, got an empty path")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{option} {path}: exists and is not a folder")
    missing, q = [], os.path.abspath(path)
    while not os.path.lexists(q):
        missing.append(q)
        parent = os.path.dirname(q)
        if parent == q:
            break
        q = parent
    mine = []
    try:
        for d in reversed(missing):
            os.mkdir(d)
            mine.append(d)
            made.append(d)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".fxsim-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        what = "create this folder" if len(mine) < len(missing) else "write in this folder"
        raise ValueError(f"{option} {path}: cannot {what} ({e.strerror or e})") from None


def _quiet_worker():
    """Worker initializer: Ctrl-C (SIGINT to the whole process group) is for the main process,
    which stops the workers; a worker never prints a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def worker_pool(workers: int):
    """A ``ProcessPoolExecutor`` of ``workers`` processes that ignore SIGINT.  When the block
    ends with an exception (KeyboardInterrupt included), queued jobs are cancelled and the
    workers stopped at once instead of waited for.

    >>> with worker_pool(2) as ex:
    ...     ex.submit(abs, -3).result()
    3
    """
    from concurrent.futures import ProcessPoolExecutor
    ex = ProcessPoolExecutor(max_workers=workers, initializer=_quiet_worker)
    try:
        yield ex
    except BaseException:
        procs = list((getattr(ex, "_processes", None) or {}).values())
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)
        raise
    ex.shutdown(wait=True)


def study_command(run):
    """The ``fxsim <study>`` handler for a study's ``run(out, quick, seed, progress,
    copy_figures_to)``: run it with the parsed options and print its table and files.

    >>> cmd = study_command(lambda *a, **k: None)
    >>> callable(cmd)
    True
    """
    def cmd(args) -> int:
        from ..cli import _print_study
        return _print_study(run(args.out, quick=args.quick, seed=args.seed,
                                progress=args.progress, copy_figures_to=args.copy_figures))
    return cmd
