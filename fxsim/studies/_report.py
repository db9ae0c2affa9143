"""The kit every study uses: the result type (``StudyResult``), numbers, markdown tables and CSV
files, figures made without touching the process's matplotlib backend (``figure``) and their
web-size copies, the progress bar, the job runner (``run_jobs``, on the sweeps' Dask runner; ``jobs_on``), the
finish step (``finish``: the markdown file, the figure copies, the result), and the
command-line side of a study (its options, the argument types, the check of its output folders
before it starts, the printout of its result).

The command line (``fxsim.cli``) imports the studies; no study imports the command line."""
import argparse
import contextlib
import contextvars
import csv
import math
import os
import sys
import tempfile
import time


class StudyResult(dict):
    """What a study's ``run`` returns: ``markdown`` (its tables), ``files`` (name -> path:
    ``md``, ``csv``, ``<name>_png``...), ``seconds``, ``rows`` and any study-specific entries.
    A dict (``res["files"]``, as before) whose entries also read as attributes.

    >>> r = StudyResult(markdown="| a |", files={}, seconds=1.5, rows=[])
    >>> r.seconds, r["markdown"], isinstance(r, dict)
    (1.5, '| a |', True)
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def nonneg_int(text):
    """argparse type: a non-negative integer (``0x`` prefixes allowed).

    >>> nonneg_int("0x10")
    16
    >>> nonneg_int("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a non-negative integer, got '-1'
    """
    try:
        v = int(text, 0)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return v


def arg_type(resolve):
    """An argparse type from a function that raises ValueError on a bad value (its message
    becomes the command line's one-line error).

    >>> import argparse
    >>> p = argparse.ArgumentParser(prog="x"); _ = p.add_argument("--n", type=arg_type(int))
    >>> p.parse_args(["--n", "3"]).n
    3
    """
    def parse(text):
        try:
            return resolve(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = getattr(resolve, "__name__", "value")
    return parse


def pos_int(text):
    """argparse type: a positive integer.

    >>> pos_int("2")
    2
    >>> pos_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer, got '0'
    """
    try:
        v = int(text, 0)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


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
    >>> d = tempfile.mkdtemp(); src, dst = os.path.join(d, "a.png"), os.path.join(d, "b.png")
    >>> save_figure(figure(20, 2, layout=None), src) == src
    True
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

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); src = save_figure(figure(2, 1), os.path.join(d, "fig.png"))
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


def write_csv(rows, path, columns, float_format=None):
    """Write ``rows`` (dicts) to ``path`` with the header ``columns`` (None and missing: empty;
    other keys ignored); ``float_format`` (e.g. ``"{:.6g}"``) formats the float cells.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> write_csv([{"model": "logistic", "seed": 0, "x": None}], p, ["model", "seed", "x"])
    >>> open(p).read().splitlines()
    ['model,seed,x', 'logistic,0,']
    >>> write_csv([{"x": 1 / 3, "n": 2}], p, ["x", "n"], float_format="{:.6g}")
    >>> open(p).read().splitlines()[1]
    '0.333333,2'
    """
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({k: _cell(row.get(k), float_format) for k in columns})


def _cell(v, float_format):
    if v is None:
        return ""
    return float_format.format(v) if float_format and isinstance(v, float) else v


def figure(w, h, layout="constrained", **kw):
    """A matplotlib ``Figure`` of ``w`` x ``h`` inches drawn by its own Agg canvas: made
    without pyplot, so the process's backend (a notebook's, a GUI's) is never switched and
    the figure needs no closing.

    >>> import matplotlib
    >>> before = matplotlib.get_backend()
    >>> fig = figure(2, 1)
    >>> type(fig.canvas).__name__, matplotlib.get_backend() == before
    ('FigureCanvasAgg', True)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w, h), layout=layout, **kw)
    FigureCanvasAgg(fig)
    return fig


def preload_figures():
    """Import what ``figure`` needs (matplotlib's ``Figure`` and Agg canvas, ~0.7 s), e.g. while
    worker processes start.

    >>> preload_figures()
    """
    import importlib
    for name in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        importlib.import_module(name)


def save_figure(fig, path, dpi=100, **kw):
    """Write ``fig`` to ``path`` (the format from its extension); returns ``path``.

    >>> import os, tempfile
    >>> p = save_figure(figure(1, 1), os.path.join(tempfile.mkdtemp(), "f.png"), dpi=50)
    >>> os.path.getsize(p) > 0
    True
    """
    fig.savefig(path, dpi=dpi, **kw)
    return path


class Progress:
    """A progress bar on stderr: tqdm when installed, else a plain counter redrawn at most once
    a second.  ``update(k, what)`` advances it by ``k`` and shows ``what`` next to it; it also
    takes tqdm's ``set_postfix_str`` and ``update(n)``.

    >>> bar = Progress(2, "demo", file=open(os.devnull, "w"))
    >>> bar.update(1, "first"); bar.update(1); bar.close(); bar.done
    2
    """

    def __init__(self, total: int, desc: str, file=None, **kw):
        self.total, self.desc, self.done = total, desc, 0
        self._file = sys.stderr if file is None else file
        self._t0 = self._last = time.perf_counter()
        self._what = ""
        try:
            from tqdm.auto import tqdm
        except ImportError:                # pragma: no cover - tqdm is a dependency
            self._bar = None
            return
        self._bar = tqdm(total=total, desc=desc, file=self._file, dynamic_ncols=True, **kw)

    def set_postfix_str(self, what, refresh=True):
        self._what = what
        if self._bar is not None:
            self._bar.set_postfix_str(what, refresh=refresh)

    def update(self, k: int = 1, what: str = ""):
        if what:
            self.set_postfix_str(what, refresh=False)
        self.done += k
        if self._bar is not None:
            self._bar.update(k)
            return
        now = time.perf_counter()
        if now - self._last >= 1.0 or self.done >= self.total:
            self._last = now
            pct = 100.0 * self.done / max(self.total, 1)
            print(f"\r{self.desc}: {self.done}/{self.total} ({pct:5.1f}%) "
                  f"{now - self._t0:6.1f}s {self._what[:40]:<40}", end="", file=self._file,
                  flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
        else:
            print(file=self._file, flush=True)


class _NoProgress:
    """The disabled bar: every call does nothing."""
    done = 0

    def set_postfix_str(self, what, refresh=True):
        pass

    def update(self, k=1, what=""):
        self.done += k

    def close(self):
        pass


def progress_bar(total: int, desc: str, enabled: bool = True, **kw):
    """A ``Progress`` bar on stderr, or None when ``enabled`` is false.

    >>> progress_bar(10, "study", enabled=False) is None
    True
    """
    if not enabled:
        return None
    return Progress(total, desc, **kw)


def make_progress(total: int, desc: str, enabled: bool = True, **kw):
    """Like ``progress_bar``, but a do-nothing bar when disabled (no ``if bar`` needed).

    >>> bar = make_progress(3, "study", enabled=False); bar.update(1, "x"); bar.close(); bar.done
    1
    """
    return Progress(total, desc, **kw) if enabled else _NoProgress()


def add_study_parser(sub, name, run, *, help, description, out, quick_help, seed_help,
                     jobs=True):
    """Add the sub-command ``name`` of a study to the argparse sub-parsers ``sub``: its help,
    the options every study has (``add_study_options``) and, as its handler,
    ``study_command(run)``; returns the sub-parser (a study adds its own options to it).

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> p = add_study_parser(sub, "x-study", print, help="h", description="d", out="results/x",
    ...                      quick_help="q", seed_help="s")
    >>> p.parse_args([]).out
    'results/x'
    """
    p = sub.add_parser(name, help=help, description=description)
    add_study_options(p, out, quick_help, seed_help, jobs=jobs)
    p.set_defaults(run=study_command(run))
    return p


def add_study_options(p, out: str, quick_help: str, seed_help: str = "root seed of every run",
                      jobs: bool = True):
    """Add the options every study sub-command has: ``--out`` (default ``out``), ``--quick``,
    ``--seed`` (non-negative), ``--no-progress``, ``--copy-figures DIR`` and ``--scheduler
    ADDRESS`` (the command line runs the study inside ``jobs_on(ADDRESS)``; ``jobs=False``: a
    study that runs in one process, whose help says the option has no effect); returns ``p``.

    >>> import argparse
    >>> p = add_study_options(argparse.ArgumentParser(), "results/x", "small run")
    >>> a = p.parse_args(["--quick", "--seed", "3"]); a.out, a.quick, a.seed, a.progress, a.scheduler
    ('results/x', True, 3, True, None)
    """
    p.add_argument("--out", default=out, help=f"output folder (default {out})")
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--seed", type=nonneg_int, default=0, help=f"{seed_help} (default 0)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument("--copy-figures", metavar="DIR",
                   help="also write web-sized copies of the figures into DIR (e.g. docs/figures)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the study's jobs on an existing Dask cluster (e.g. tcp://10.0.0.1:8786, "
                        "or dask-jobqueue's SLURMCluster's scheduler_address) instead of this "
                        "machine; the results do not depend on it" if jobs else
                        "accepted as on every study, but this study runs in this process (its "
                        "parts are not a grid of independent jobs): no effect")
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


#: the Dask scheduler the studies' jobs go to (``jobs_on``); None: this machine
_SCHEDULER = contextvars.ContextVar("fxsim_study_scheduler", default=None)


@contextlib.contextmanager
def jobs_on(scheduler):
    """Within the block, ``run_jobs`` sends every study's jobs to the Dask scheduler at
    ``scheduler`` (an address such as ``tcp://10.0.0.1:8786``; None: this machine, as before).
    The command line wraps a study in it for ``--scheduler ADDRESS``.

    >>> with jobs_on("tcp://10.0.0.1:8786"):
    ...     study_scheduler()
    'tcp://10.0.0.1:8786'
    >>> study_scheduler() is None
    True
    """
    token = _SCHEDULER.set(scheduler)
    try:
        yield scheduler
    finally:
        _SCHEDULER.reset(token)


def study_scheduler():
    """The scheduler address ``run_jobs`` uses now (``jobs_on``), or None.

    >>> study_scheduler() is None
    True
    """
    return _SCHEDULER.get()


def run_jobs(fn, jobs, workers=1, bar=None, label=None) -> list:
    """``[fn(job) for job in jobs]``, in job order, through the sweeps' runner
    (``fxsim.sweep.jobs.map_jobs``): on the Dask cluster of ``jobs_on`` when one is set, else on
    a local Dask cluster of ``workers`` worker processes when ``workers`` > 1 and there is more
    than one job (Ctrl-C stops it), else in this process.  ``bar`` (a ``Progress``, or None)
    advances once per finished job, showing ``label(job)``.  ``fn`` must be picklable (a
    module-level function) and each job a pure function of its argument (its seeds in the job,
    never from the worker), so the results do not depend on where or in what order they ran.
    The first job that raises stops the others and its exception is raised here.

    >>> run_jobs(abs, [-1, 2, -3], workers=1)
    [1, 2, 3]
    >>> run_jobs(abs, [-1, 2, -3], workers=2)     # doctest: +SKIP
    [1, 2, 3]
    """
    from ..sweep.jobs import map_jobs
    jobs = list(jobs)
    out = [None] * len(jobs)
    scheduler = study_scheduler()
    serial = scheduler is None and (not workers or workers <= 1 or len(jobs) <= 1)
    for i, res, err in map_jobs(fn, jobs, serial=serial, workers=workers, scheduler=scheduler,
                                retries=0, name=getattr(fn, "__module__", "study").rpartition(".")[2]):
        if err is not None:
            raise err
        out[i] = res
        if bar is not None:
            bar.update(1, label(jobs[i]) if label else "")
    return out


def finish(markdown, files, seconds, rows, copy_figures_to=None, **extra) -> StudyResult:
    """The last step of every study: write ``markdown`` to ``files["md"]``, web-size copies of
    the figures into ``copy_figures_to`` (if given; ``copy_figures``) and return the
    ``StudyResult`` (``extra``: study-specific entries such as ``summary``).

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); md = os.path.join(d, "s.md")
    >>> res = finish("# s", {"md": md}, 0.5, [], summary=[])
    >>> open(md).read(), sorted(res)
    ('# s', ['files', 'markdown', 'rows', 'seconds', 'summary'])
    """
    with open(files["md"], "w") as fh:
        fh.write(markdown)
    if copy_figures_to:
        copy_figures(files, copy_figures_to)
    return StudyResult(rows=rows, markdown=markdown, files=files, seconds=seconds, **extra)


def study_command(run):
    """The ``fxsim <study>`` handler for a study's ``run(out, quick, seed, progress,
    copy_figures_to)``: run it with the parsed options and print its verdict and files.

    >>> cmd = study_command(lambda *a, **k: None)
    >>> callable(cmd)
    True
    """
    def cmd(args) -> int:
        return print_study(run(args.out, quick=args.quick, seed=args.seed,
                               progress=args.progress, copy_figures_to=args.copy_figures),
                           quick=args.quick)
    return cmd


def verdict(claim: str, held, figure: str) -> dict:
    """One line of a study's verdict: ``claim`` (what the paper or the README says), ``held``
    (True, False or None for "not decided") and ``figure`` (the measured number behind it).
    Studies return a list of these as ``verdicts`` (``finish(..., verdicts=[...])``).

    >>> verdict("SR beats RN on the quadratic", True, "45 vs 116 iterations")["held"]
    True
    """
    if held not in (True, False, None):
        raise ValueError(f"held must be True, False or None, got {held!r}")
    return {"claim": str(claim), "held": held, "figure": str(figure)}


def verdict_lines(verdicts) -> str:
    """The printed verdict: one line per claim.

    >>> print(verdict_lines([verdict("a beats b", True, "3 vs 5"), verdict("c", None, "z = 1.1")]))
    held          a beats b: 3 vs 5
    not decided   c: z = 1.1
    """
    word = {True: "held", False: "did not hold", None: "not decided"}
    return "\n".join(f"{word[v['held']]:<13} {v['claim']}: {v['figure']}" for v in verdicts)


#: the line ``print_study`` adds after a ``--quick`` run
QUICK_CAUTION = ("Caution: --quick uses few seeds and iterations, so these numbers are noisy; "
                 "run without --quick for the results.")


def print_study(res, quick=None) -> int:
    """Print a study's verdict (one line per claim, ``verdict_lines``; a study that returns no
    ``verdicts`` prints its tables instead), the ``--quick`` caution (``quick``, default
    ``res["quick"]``; a study's own ``res["caution"]`` if it has one) and, once, where its files
    are; returns 0 (the exit code).

    >>> print_study({"verdicts": [verdict("SR beats RN", True, "45 vs never")], "seconds": 1.0,
    ...              "files": {"md": "o/t.md", "csv": "o/t.csv", "a_png": "o/a.png"}}, quick=True)
    held          SR beats RN: 45 vs never
    Caution: --quick uses few seeds and iterations, so these numbers are noisy; run without --quick for the results.
    Done in 1.0 s. Tables: o/t.md, o/t.csv
    Figures: o/a.png
    0
    """
    files = res["files"]
    if res.get("verdicts"):
        print(verdict_lines(res["verdicts"]))
    else:
        print(res["markdown"])
    if res.get("quick") if quick is None else quick:
        print(res.get("caution") or QUICK_CAUTION)
    tables = [v for k, v in files.items() if not k.endswith("_png")]
    figures = [v for k, v in files.items() if k.endswith("_png") and not k.endswith("_small_png")]
    print(f"Done in {res['seconds']:.1f} s. Tables: {', '.join(tables)}")
    if figures:
        print("Figures: " + ", ".join(figures))
    return 0
