#!/usr/bin/env bash
# The documents' generated tables, each made from the one table in the code
# that owns its facts, between the document's <!-- NAME --> and <!-- /NAME -->
# markers:
#   columns     README.md       `simsiam-mi track --columns`  (src/simsiam/track.c SM_TRACK_COLUMNS)
#   estimators  README.md       `simsiam-mi estimate --list`  (src/estimators/registry.c)
#   keys        docs/design.md  `simsiam-mi train --help`     (src/io/config.c's key table)
#   scripts/readme-table.sh NAME BIN           print the table
#   scripts/readme-table.sh NAME BIN --check   exit 1 (naming the document) unless its table is it
#   scripts/readme-table.sh NAME BIN --write   replace the document's table with it
set -euo pipefail
usage="usage: scripts/readme-table.sh columns|estimators|keys BIN [--check|--write]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
name=$1 bin=$2
readme=$(dirname "$0")/../README.md
columns() {
  echo "| column | in | unit | what it is |"
  echo "| --- | --- | --- | --- |"
  "$bin" track --columns | awk -F'\t' 'NR > 1 { gsub(/\|/, "\\|", $4); gsub(/_detail\.csv/, "_detail", $2)
    gsub(/\.csv/, "", $2); gsub(/,/, ", ", $2); printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4 }'
}
estimators() {
  echo "| quantity | \`--estimator\` / \`--family\` | what it computes |"
  echo "| --- | --- | --- |"
  "$bin" estimate --list | awk -F'\t' 'NR > 1 { gsub(/\|/, "\\|", $4)
    printf "| %s | `%s`%s | %s |\n", $1, $2, $3 == 1 ? " (default)" : "", $4 }'
  echo "| bound | every nll family but \`mix\` | the chain of §1 in one line (below) |"
}
# `train --help`'s lines "  key=default  meaning (accepted values)", the values
# in one of config.c's four forms (an interval may hold a lone parenthesis).
keys() {
  echo "| key | default | accepted values | meaning (as \`train --help\` prints it) |"
  echo "| --- | --- | --- | --- |"
  "$bin" train --help | awk '
    function last(s, t,    i, at) { for (at = 0; (i = index(substr(s, at + 1), t)) > 0; ) at += i; return at }
    /^  [a-z_]+=/ {
      line = substr($0, 3); key = substr(line, 1, index(line, "=") - 1); rest = substr(line, length(key) + 2)
      def = rest ~ /^ / ? "" : substr(rest, 1, index(rest, " ") - 1)
      text = substr(rest, length(def) + 1); sub(/^ +/, "", text)
      at = 0
      for (f = 1; f <= 4; f++) if ((i = last(text, FORMS[f])) > at) at = i
      meaning = substr(text, 1, at - 1); values = substr(text, at + 2, length(text) - at - 2)
      if (values ~ /^one of /) { values = substr(values, 8); gsub(/\|/, " \\| ", values) }
      gsub(/\|/, "\\|", meaning)
      while (match(meaning, /<[a-z_]+>/)) # a placeholder, not an HTML tag
        meaning = substr(meaning, 1, RSTART - 1) "\\<" substr(meaning, RSTART + 1, RLENGTH - 2) "\\>" \
                  substr(meaning, RSTART + RLENGTH)
      printf "| `%s` | %s | %s | %s |\n", key, def == "" ? "(empty)" : "`" def "`", values, meaning
    }
    BEGIN { FORMS[1] = " (an integer "; FORMS[2] = " (a finite number "; FORMS[3] = " (one of "; FORMS[4] = " (a path)" }'
}
case $name in
  columns) source="track --columns" ;;
  estimators) source="estimate --list" ;;
  keys) source="train --help" readme=$(dirname "$0")/../docs/design.md ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
# The document with the lines between the markers replaced by stdin.
spliced() {
  awk -v start="<!-- $name -->" -v end="<!-- /$name -->" 'FNR == NR { t = t $0 "\n"; next }
       $0 == end { skip = 0 } !skip { print } $0 == start { printf "%s", t; skip = 1 }' - "$readme"
}
case ${3:-} in
  "") "$name" ;;
  --check)
    if ! "$name" | spliced | cmp -s - "$readme"; then
      echo "$name: ${readme##*/../}'s table of $name differs from 'simsiam-mi $source' (run make readme-tables)" >&2
      exit 1
    fi ;;
  --write) "$name" | spliced >"$readme.tmp" && mv "$readme.tmp" "$readme" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
