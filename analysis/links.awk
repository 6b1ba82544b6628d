# The links of the chain between intervals, shared by chain.awk and
# convergence.awk (loaded before them: awk -f analysis/links.awk -f ...).
# A link a ≥ b "holds" when the intervals are ordered (a's lower end above b's
# upper end), "fails" when they are ordered the other way, "within noise" when
# they overlap, "n/a" when a value or an end is nan.  The gap a − b with a
# paired interval (both terms on the same subsampled rows, track_detail.csv's
# gap_lo/gap_hi) is judged on that interval against 0 instead: the same
# question asked of the difference, whose interval is narrower because the
# two terms share their noise (docs/design.md §1.6).
BEGIN { NUMBER = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$" }

function finite(x) { return x ~ NUMBER }
function diff(a, b) { return finite(a) && finite(b) ? sprintf("%.10g", a - b) : "nan" }

# Is a's interval [alo, ahi] above b's [blo, bhi]?
function link(a, alo, ahi, b, blo, bhi) {
    if (!finite(a) || !finite(b) || !finite(alo) || !finite(ahi) || !finite(blo) || !finite(bhi)) return "n/a"
    if (alo + 0 > bhi + 0) return "holds"
    if (ahi + 0 < blo + 0) return "fails"
    return "within noise"
}

# The gap a − b, its interval and its link into g["gap"], g["lo"], g["hi"],
# g["link"] and g["rule"]: "paired" when plo and phi (the paired interval)
# are numbers, else "combined" (the two intervals at their worst: alo − bhi,
# ahi − blo).
function judge_gap(a, alo, ahi, b, blo, bhi, plo, phi, g) {
    g["gap"] = diff(a, b)
    if (finite(plo) && finite(phi)) {
        g["lo"] = plo; g["hi"] = phi; g["rule"] = "paired"
        g["link"] = !finite(g["gap"]) ? "n/a" : plo + 0 > 0 ? "holds" : phi + 0 < 0 ? "fails" : "within noise"
        return
    }
    g["lo"] = diff(alo, bhi); g["hi"] = diff(ahi, blo); g["rule"] = "combined"
    g["link"] = link(a, alo, ahi, b, blo, bhi)
}
