# Read an experiment's runs file: one run per line, "<name> key=value ...",
# '#' starts a comment.  Prints the runs as "<name> key=value ..." lines with
# single spaces; on a bad line prints "<who>: error: <what> (<file>:<line>)" on
# stderr and exits 1.  Names are unique and safe as directory names.
#   awk -v who=experiment -v file=EXP/runs -f scripts/runs.awk <EXP/runs
function die(what) {
    printf "%s: error: %s (%s:%d)\n", who, what, file, FNR > "/dev/stderr"
    bad = 1
    exit 1
}
{ sub(/#.*/, "") }
NF == 0 { next }
$1 !~ /^[A-Za-z0-9._-]+$/ { die("run name \"" $1 "\" may only use letters, digits and . _ -") }
$1 in seen { die("run name \"" $1 "\" appears twice") }
$1 == "plots" { die("run name \"plots\" is taken by the experiment report's plots directory") }
{
    seen[$1] = 1
    n++
    for (i = 2; i <= NF; i++) if ($i !~ /^[a-z_]+=[^=]+$/) die("expected key=value, got \"" $i "\"")
    $1 = $1
    print
}
END {
    if (bad) exit 1
    if (n == 0) die("no runs")
}
