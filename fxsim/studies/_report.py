"""Text helpers shared by the studies: numbers for tables and markdown tables."""
import math


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
