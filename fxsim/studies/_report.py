"""Text helpers shared by the studies: numbers for tables and markdown tables."""
import math
import os


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
