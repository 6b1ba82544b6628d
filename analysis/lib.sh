# shellcheck shell=bash
# Shared by analysis/run-report.sh and analysis/experiment-report.sh (sourced,
# not run).  Errors are one line "analysis: error: <what> (<where>)": exit 1
# for bad or missing data, 2 for usage errors.

analysis_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
plots_dir=$(cd "$analysis_dir/../plots" && pwd)

# The columns each CSV must have (docs/design.md section 4 and the tracking contract).
TRAIN_COLUMNS="step loss z_std"
TRACK_COLUMNS="step loss_cos nll_l2 nll_iso nll_diag nll_full nll_vmf kappa h_z_kl h_z_gauss h_z_given_z1 \
h_z_given_x i_ksg i_gauss i_ba i_infonce infonce_cap z_std dim_used"
DETAIL_COLUMNS="step dim_used n views images nll_r nll_r_lo nll_r_hi nll_r_opt h_z_given_z1_lo h_z_given_z1_hi \
h_z_given_x_lo h_z_given_x_hi i_ksg_lo i_ksg_hi"

fail() { echo "analysis: error: $1" >&2; exit 1; }
usage() { echo "usage: $1" >&2; exit 2; }

# awk_path PATH: PATH as it can be given to awk as a file: awk takes a relative
# path whose first component holds "=" (lr=0.1/train.csv) for an assignment,
# so such a path gets "./" before it; any other path is left as it is.
awk_path() { case ${1%%/*} in *=*) printf './%s' "$1" ;; *) printf '%s' "$1" ;; esac; }

# check_csv FILE "COLUMNS" [STEP]: exits with check_csv.awk's one-line error
# when FILE is not a CSV of numbers with those columns (and one row per STEP,
# in order, when given).
check_csv() {
  awk -v file="$1" -v need="$2" -v increasing="${3:-}" -f "$analysis_dir/check_csv.awk" "$1" || exit 1
}

# Data rows of a CSV (its lines after the header).
csv_rows() { awk 'END { print (NR > 0 ? NR - 1 : 0) }' "$1"; }

# Names of the columns of a CSV with no finite value: the plot scripts leave
# them out (gnuplot warns about, or refuses, a series with no valid point).
empty_columns() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; next }
           { for (i = 1; i <= NF; i++) if ($i ~ /^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$/) ok[i] = 1 }
           END { for (i = 1; i in name; i++) if (!(i in ok)) printf "%s ", name[i] }' "$1"
}

# config_value DIR KEY [FILE]: the value of KEY in DIR/FILE (default
# config.txt; a refit's is refit_config.txt), empty if absent.
config_value() {
  local file=$1/${3:-config.txt}
  [ -f "$file" ] || return 0
  awk -v key="$2" '{ sub(/[ \t]*=[ \t]*/, "=") } index($0, key "=") == 1 { print substr($0, length(key) + 2); exit }' \
    "$file"
}

# last_row FILE "COLUMNS": those columns of FILE's last row, comma-separated.
last_row() {
  awk -F, -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { for (i = 1; i <= NF; i++) last[i] = $i }
    END { n = split(want, w, " "); for (i = 1; i <= n; i++) printf "%s%s", last[col[w[i]]], (i < n ? "," : "\n") }' "$1"
}

# json_value FILE KEY: the value after "KEY": in a one-line JSON object.
json_value() { sed -n "s/.*\"$2\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" "$1" | tr -d '"'; }

# write_file PATH: stdin to PATH through a temporary and a rename, so a reader
# never sees half a report.
write_file() {
  local tmp="$1.tmp.$$"
  if ! cat >"$tmp" || ! mv -f "$tmp" "$1"; then
    rm -f "$tmp"
    fail "cannot write ($1)"
  fi
}

# render KIND NAME VALUE [NAME VALUE ...]: plots/KIND.gp with each NAME set to
# the string VALUE (quoted for gnuplot, so a path or run name may hold ' or ");
# gnuplot's own messages pass through on stderr.
render() {
  local kind=$1 set=""
  shift
  while [ $# -ge 2 ]; do
    set+="$1='${2//\'/\'\'}'; "
    shift 2
  done
  gnuplot -e "$set" "$plots_dir/$kind.gp" || fail "gnuplot could not draw $kind ($plots_dir/$kind.gp)"
}
