#!/usr/bin/env bash
# README's table of tracked columns, made from `simsiam-mi track --columns` (the
# one column table in src/simsiam/track.c):
#   scripts/columns-md.sh BIN           print the table
#   scripts/columns-md.sh BIN --check   exit 1 (naming README.md) unless README's
#                                       table, between its <!-- columns --> markers, is it
#   scripts/columns-md.sh BIN --write   replace README's table with it
set -euo pipefail
bin=${1:?usage: scripts/columns-md.sh BIN [--check|--write]}
readme=$(dirname "$0")/../README.md
table() {
  echo "| column | in | unit | what it is |"
  echo "| --- | --- | --- | --- |"
  "$bin" track --columns | awk -F'\t' 'NR > 1 { gsub(/\|/, "\\|", $4); gsub(/_detail\.csv/, "_detail", $2)
    gsub(/\.csv/, "", $2); gsub(/,/, ", ", $2); printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4 }'
}
# README with the lines between the markers replaced by stdin.
spliced() {
  awk 'FNR == NR { t = t $0 "\n"; next } /<!-- \/columns -->/ { skip = 0 } !skip { print }
       /<!-- columns -->/ { printf "%s", t; skip = 1 }' - "$readme"
}
case ${2:-} in
  "") table ;;
  --check)
    if ! table | spliced | cmp -s - "$readme"; then
      echo "columns: README.md's table of tracked columns differs from 'simsiam-mi track --columns' (run make readme-columns)" >&2
      exit 1
    fi ;;
  --write) table | spliced >"$readme.tmp" && mv "$readme.tmp" "$readme" ;;
  *) echo "usage: scripts/columns-md.sh BIN [--check|--write]" >&2; exit 2 ;;
esac
