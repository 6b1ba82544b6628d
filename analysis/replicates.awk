# The gap of each run across replicates of one experiment (the same runs
# trained again under another seed: make experiment ... KEYS=seed=N
# RESULTS=DIR), from their experiment reports' gap.csv files, as Markdown:
# a table of each run's gap (with its interval) per replicate, its mean and
# its spread (max - min) across replicates, then whether the runs' order by
# gap is the same in every replicate and, where it is not, which pairs of runs
# swap.  The spread is the training's noise (another encoder), which the gap's
# interval (the estimator's noise at one encoder) does not show.
#   awk -f analysis/replicates.awk A/gap.csv B/gap.csv ...   (analysis/replicates.sh)
# A file without the columns run, gap, gap_lo, gap_hi, or with a cell there
# that is not a number (nan and inf are numbers here), is one line
# "analysis: error: <what> (<file>:<line>)" on stderr and exit 1.
BEGIN {
    FS = ","
    NUMBER = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
    NONFINITE = "^[-+]?(nan|inf|infinity)$"
    if (ARGC < 3) { print "usage: awk -f analysis/replicates.awk GAP_CSV GAP_CSV..." > "/dev/stderr"; few = 1; exit 2 }
}

# A path as given to replicates.sh (which puts "./" before one that awk would
# take for an assignment: analysis/lib.sh, awk_path).
function shown(path) { sub(/^[.]\//, "", path); return path }

function fail(what, line) {
    printf "analysis: error: %s (%s:%d)\n", what, shown(FILENAME), line > "/dev/stderr"
    failed = 1
    exit 1
}

function finite(x) { return x ~ NUMBER }
function num(x) { return finite(x) ? sprintf("%.3f", x) : tolower(x) }

{ sub(/\r$/, "") }
FNR > 1 && $0 == "" { next } # a trailing blank line

FNR == 1 {
    f++
    file[f] = shown(FILENAME)
    read[FILENAME] = 1
    delete col
    for (i = 1; i <= NF; i++) col[$i] = i
    split("run gap gap_lo gap_hi", need, " ")
    for (i = 1; i <= 4; i++) if (!(need[i] in col)) fail("no column \"" need[i] "\" in the header", 1)
    width = NF
    next
}

{
    if (NF != width) fail("row has " NF " cells, the header " width, FNR)
    for (i = 2; i <= 4; i++) {
        v = $(col[need[i]])
        if (v !~ NUMBER && tolower(v) !~ NONFINITE) fail("not a number in column " need[i] ": \"" v "\"", FNR)
    }
    rows[f]++
    r = $(col["run"])
    if ((r, f) in gap) fail("run \"" r "\" appears twice", FNR)
    if (!(r in known)) { known[r] = ++nruns; run[nruns] = r }
    gap[r, f] = $(col["gap"])
    lo[r, f] = $(col["gap_lo"])
    hi[r, f] = $(col["gap_hi"])
}

# The runs with a finite gap in every replicate, ascending by their gap in
# replicate k (by their mean for k = 0), as "a < b = c" (ties in the runs'
# order of first appearance).
function order(k,    i, j, m, idx, t, key, s) {
    m = 0
    for (i = 1; i <= nruns; i++) if (complete[run[i]]) idx[++m] = run[i]
    for (i = 1; i <= m; i++) key[idx[i]] = k ? gap[idx[i], k] + 0 : mean[idx[i]]
    for (i = 2; i <= m; i++)
        for (j = i; j > 1 && key[idx[j - 1]] > key[idx[j]]; j--) { t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t }
    s = ""
    for (i = 1; i <= m; i++) s = s (i == 1 ? "" : key[idx[i]] == key[idx[i - 1]] ? " = " : " < ") idx[i]
    return s
}

END {
    if (few) exit 2
    if (failed) exit 1
    for (a = 1; a < ARGC; a++)
        if (!(ARGV[a] in read)) { printf "analysis: error: empty file: no header (%s)\n", shown(ARGV[a]) > "/dev/stderr"; exit 1 }
    for (k = 1; k <= f; k++)
        if (!rows[k]) { printf "analysis: error: no runs, only the header (%s:1)\n", file[k] > "/dev/stderr"; exit 1 }
    printf "| run |"
    for (k = 1; k <= f; k++) printf " gap, replicate %d |", k
    print " mean | spread |"
    printf "|---|"
    for (k = 1; k <= f; k++) printf "---|"
    print "---:|---:|"
    for (i = 1; i <= nruns; i++) {
        r = run[i]
        complete[r] = 1
        sum = 0; least = ""; most = ""
        printf "| %s |", r
        for (k = 1; k <= f; k++) {
            if (!((r, k) in gap)) { printf " (no row) |"; complete[r] = 0; continue }
            printf " %s [%s, %s] |", num(gap[r, k]), num(lo[r, k]), num(hi[r, k])
            if (!finite(gap[r, k])) { complete[r] = 0; continue }
            g = gap[r, k] + 0
            sum += g
            if (least == "" || g < least) least = g
            if (most == "" || g > most) most = g
        }
        if (complete[r]) {
            mean[r] = sum / f
            spread[r] = most - least
            printf " %.3f | %.3f |\n", mean[r], spread[r]
            ncomplete++
        } else print " n/a | n/a |"
    }
    print ""
    for (k = 1; k <= f; k++) printf "%s%d = %s", (k > 1 ? ", " : "- Replicates: "), k, file[k]
    print "."
    if (ncomplete < 2) { print "- Fewer than two runs have a gap in every replicate: no order to compare."; exit 0 }
    widest = ""
    for (i = 1; i <= nruns; i++) {
        r = run[i]
        if (!complete[r]) continue
        if (widest == "" || spread[r] > spread[widest]) widest = r
        if (low == "" || mean[r] < mean[low]) low = r
        if (high == "" || mean[r] > mean[high]) high = r
    }
    printf "- The runs' mean gaps range over %.3f nats (%s %.3f to %s %.3f); a run's spread across replicates is at most %.3f (%s).\n", \
        mean[high] - mean[low], low, mean[low], high, mean[high], spread[widest], widest
    same = 1
    for (k = 2; k <= f; k++) if (order(k) != order(1)) same = 0
    if (same) printf "- **The runs' order by gap is the same in all %d replicates**: %s.\n", f, order(1)
    else {
        flips = swapped_pairs()
        printf "- **The runs' order by gap differs between replicates** in %d of %d pairs of runs (%s); the other pairs keep their order in every replicate.", \
            nswapped, npairs, flips
        for (k = 1; k <= f; k++) printf "%s replicate %d: %s", (k > 1 ? ";" : " By replicate:"), k, order(k)
        printf " (by the mean: %s).\n", order(0)
    }
}

# The pairs of runs (finite gaps everywhere) whose gaps go one way in a
# replicate and the other way in another, as "a / b, c / d" (nswapped of
# npairs).
function swapped_pairs(    i, j, k, a, b, up, down, s) {
    s = ""
    for (i = 1; i <= nruns; i++) {
        a = run[i]
        if (!complete[a]) continue
        for (j = i + 1; j <= nruns; j++) {
            b = run[j]
            if (!complete[b]) continue
            npairs++
            up = down = 0
            for (k = 1; k <= f; k++) {
                if (gap[a, k] + 0 < gap[b, k] + 0) up = 1
                if (gap[a, k] + 0 > gap[b, k] + 0) down = 1
            }
            if (up && down) { nswapped++; s = s (s == "" ? "" : ", ") a " / " b }
        }
    }
    return s
}
