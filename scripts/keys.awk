# Read a config-style file (docs/design.md section 3: key = value lines, '#'
# comments): prints one "key=value" per line, comments, blank lines and the
# spaces around '=' dropped; on a malformed line prints
# "<who>: error: <what> (<file>:<line>)" on stderr and exits 1.
#   awk -v who=experiment -v file=FILE -f scripts/keys.awk <FILE
{ sub(/#.*/, ""); gsub(/^[ \t]+|[ \t]+$/, "") }
$0 == "" { next }
!/^[a-z_]+[ \t]*=/ {
    printf "%s: error: expected key=value, got \"%s\" (%s:%d)\n", who, $0, file, FNR > "/dev/stderr"
    exit 1
}
{ sub(/[ \t]*=[ \t]*/, "="); print }
