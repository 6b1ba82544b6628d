#!/usr/bin/env bash
# README's generated tables, each made from the one table in the code that
# owns its facts, between README's <!-- NAME --> and <!-- /NAME --> markers:
#   columns     `simsiam-mi track --columns`  (src/simsiam/track.c SM_TRACK_COLUMNS)
#   estimators  `simsiam-mi estimate --list`  (src/estimators/registry.c)
#   scripts/readme-table.sh NAME BIN           print the table
#   scripts/readme-table.sh NAME BIN --check   exit 1 (naming README.md) unless README's table is it
#   scripts/readme-table.sh NAME BIN --write   replace README's table with it
set -euo pipefail
usage="usage: scripts/readme-table.sh columns|estimators BIN [--check|--write]"
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
case $name in
  columns) source="track --columns" ;;
  estimators) source="estimate --list" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
# README with the lines between the markers replaced by stdin.
spliced() {
  awk -v start="<!-- $name -->" -v end="<!-- /$name -->" 'FNR == NR { t = t $0 "\n"; next }
       $0 == end { skip = 0 } !skip { print } $0 == start { printf "%s", t; skip = 1 }' - "$readme"
}
case ${3:-} in
  "") "$name" ;;
  --check)
    if ! "$name" | spliced | cmp -s - "$readme"; then
      echo "$name: README.md's table of $name differs from 'simsiam-mi $source' (run make readme-tables)" >&2
      exit 1
    fi ;;
  --write) "$name" | spliced >"$readme.tmp" && mv "$readme.tmp" "$readme" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
