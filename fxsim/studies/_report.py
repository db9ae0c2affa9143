"""Text helpers shared by the studies: numbers for tables and markdown tables."""
import math
import os


def fmt_number(v, digits=3, fixed_from=1e-3):
    """A compact number for a table: "—" for missing, "0", %g between ``fixed_from`` and 1e4,
    else scientific notation."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v == 0:
        return "0"
    if fixed_from <= abs(v) < 1e4:
        return f"{v:.{digits}g}"
    return f"{v:.{digits - 1}e}"


def markdown_table(header, body) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(out)


def small_png(src, dst, max_width=1500):
    """A web-sized copy of a figure: at most ``max_width`` pixels wide, an adaptive 256-colour
    palette (the plots use few colours), optimized; returns its size in bytes."""
    from PIL import Image
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
        im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            dst, optimize=True)
    return os.path.getsize(dst)
