# The chain of docs/design.md section 1 per tracked step, from a run's track.csv
# (point estimates) and track_detail.csv (nll_r, nll_r_opt and the 95%
# subsampling intervals), joined by step:
#   awk -f analysis/links.awk -f analysis/chain.awk OUT/track.csv OUT/track_detail.csv > chain.csv
# With -v sphere=1 the chain of the cosine loss on the sphere instead:
# nll_vmf ≥ h_s_given_z1 ≥ h_s_given_x (and no affine floor: nll_r_opt nan),
# written under the same output column names.
# Both files are checked by check_csv.awk first.  Output columns:
#   step,dim_used,n,views,images,             as in track_detail.csv
#   nll_r,nll_r_lo,nll_r_hi,nll_r_opt,        E[NLL_Q] with the trained and the best affine predictor
#   h_z_given_z1,..._lo,..._hi, h_z_given_x,..._lo,..._hi
#   gap,gap_lo,gap_hi                         nll_r - h_z_given_z1; the interval is the paired one
#                                             of track_detail.csv (gap_lo, gap_hi; sphere: gap_s_*),
#                                             or where a file has none (written before it existed,
#                                             or nan) the two intervals combined at their worst
#                                             (lo - hi, hi - lo)
#   predictor_share,family_share              nll_r - nll_r_opt, nll_r_opt - h_z_given_z1
#   nll_vs_z1,z1_vs_x,verdict                 the two links and the step (analysis/README.md)
#   gap_interval                              paired or combined: which gap interval, and so
#                                             which rule, nll_vs_z1 used
# The links as analysis/links.awk decides them, nll_vs_z1 on the paired gap
# interval where there is one.  The step "fails" if a link fails, "holds" if
# both hold, "holds within noise" otherwise (or "n/a").  The trainer writes a
# row to both files at every tracked step, so a step in one file only is an
# error (one line, exit 1, nothing printed).
BEGIN { FS = ","; OFS = "," }

# A column of this step: from track_detail.csv (the current line) if it has
# it, else from track.csv's row of the same step; nan when neither has it.
function v(name) {
    if ((2, name) in col) return $(col[2, name])
    return ((1, name) in col) ? main[step, name] : "nan"
}

function verdict(a, b) {
    if (a == "fails" || b == "fails") return "fails"
    if (a == "n/a" || b == "n/a") return "n/a"
    if (a == "holds" && b == "holds") return "holds"
    return "holds within noise"
}

BEGIN {
    NLL = sphere ? "nll_vmf" : "nll_r"; Z1 = sphere ? "h_s_given_z1" : "h_z_given_z1"
    X = sphere ? "h_s_given_x" : "h_z_given_x"; OPT = sphere ? "" : "nll_r_opt"; GAP = sphere ? "gap_s" : "gap"
}

function fail(what, where) {
    printf "analysis: error: %s (%s)\n", what, where > "/dev/stderr"
    failed = 1
    exit 1
}

FNR == 1 { name[++file] = FILENAME; for (i = 1; i <= NF; i++) col[file, $i] = i; next }

file == 1 { for (c in col) { split(c, k, SUBSEP); if (k[1] == 1) main[$(col[1, "step"]), k[2]] = $(col[c]) }; seen[$(col[1, "step"])] = FNR; order[++nseen] = $(col[1, "step"]); next }

{
    step = $(col[2, "step"])
    if (!(step in seen)) fail("step " step " has no row in " name[1], name[2] ":" FNR)
    joined[step] = 1
    nll = v(NLL); nlo = v(NLL "_lo"); nhi = v(NLL "_hi"); opt = OPT == "" ? "nan" : v(OPT)
    z1 = v(Z1); zlo = v(Z1 "_lo"); zhi = v(Z1 "_hi")
    x = v(X); xlo = v(X "_lo"); xhi = v(X "_hi")
    judge_gap(nll, nlo, nhi, z1, zlo, zhi, v(GAP "_lo"), v(GAP "_hi"), g)
    b = link(z1, zlo, zhi, x, xlo, xhi)
    rows[++nrows] = step OFS v("dim_used") OFS v("n") OFS v("views") OFS v("images") OFS nll OFS nlo OFS nhi OFS opt \
                    OFS z1 OFS zlo OFS zhi OFS x OFS xlo OFS xhi \
                    OFS g["gap"] OFS g["lo"] OFS g["hi"] OFS diff(nll, opt) OFS diff(opt, z1) \
                    OFS g["link"] OFS b OFS verdict(g["link"], b) OFS g["rule"]
}

END {
    if (failed) exit 1
    for (i = 1; i <= nseen; i++) if (!(order[i] in joined)) fail("step " order[i] " has no row in " name[2], name[1] ":" seen[order[i]])
    print "step,dim_used,n,views,images,nll_r,nll_r_lo,nll_r_hi,nll_r_opt," \
          "h_z_given_z1,h_z_given_z1_lo,h_z_given_z1_hi,h_z_given_x,h_z_given_x_lo,h_z_given_x_hi," \
          "gap,gap_lo,gap_hi,predictor_share,family_share,nll_vs_z1,z1_vs_x,verdict,gap_interval"
    for (r = 1; r <= nrows; r++) print rows[r]
}
