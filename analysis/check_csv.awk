# Validate a CSV of numbers before anything reads it: a header naming every
# column in `need`, every row as wide as the header, every cell a plain decimal
# number or nan/inf (the estimators write "nan" when they could not run); with
# increasing=COLUMN, that column growing from row to row (a file of one row
# per step: a repeated or earlier step is damage, which a reader taking the
# last row as the last step would not notice).
#   awk -v file=PATH -v need="step loss ..." [-v increasing=step] -f analysis/check_csv.awk PATH
# Silent on success; otherwise one line "analysis: error: <what> (<file>:<line>)"
# on stderr and exit status 1.
BEGIN {
    FS = ","
    NUMBER = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
    NONFINITE = "^[-+]?(nan|inf|infinity)$"
}

function fail(what, line) {
    printf "analysis: error: %s (%s%s)\n", what, file, (line > 0 ? ":" line : "") > "/dev/stderr"
    bad = 1
    exit 1
}

{ sub(/\r$/, "") }

NR == 1 {
    for (i = 1; i <= NF; i++) { name[i] = $i; has[$i] = 1 }
    n = split(need, want, " ")
    for (i = 1; i <= n; i++)
        if (!(want[i] in has)) fail("no column \"" want[i] "\" in the header", 1)
    width = NF
    for (i = 1; i <= NF; i++) if (name[i] == increasing) inc = i
    next
}

NF != width { fail("row has " NF " cells, the header " width, NR) }

{
    for (i = 1; i <= NF; i++)
        if ($i !~ NUMBER && tolower($i) !~ NONFINITE)
            fail("not a number in column " name[i] ": \"" $i "\"", NR)
    if (inc && NR > 2 && !($inc + 0 > prev))
        fail(increasing " " $inc " after " increasing " " prev ": one row per " increasing ", in order", NR)
    if (inc) prev = $inc + 0
}

END {
    if (bad) exit 1
    if (NR == 0) fail("empty file: no header", 0)
}
