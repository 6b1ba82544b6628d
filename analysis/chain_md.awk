# The chain and gap sections of a run's report.md, from its chain.csv (made by
# chain.awk):   awk -v z_dim=D -f analysis/chain_md.awk DIR/chain.csv
# With -v sphere=1, from the sphere chain (chain.awk -v sphere=1): the chain
# of the cosine loss, E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) ≥ Ĥ_S(ẑ2|x), and its gap.
BEGIN {
    FS = ","; NUMBER = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
    # the chain's three terms as the failing steps name them
    NLL = sphere ? "E[NLL_vMF]" : "E[NLL_Q]"
    GIVEN_Z1 = sphere ? "Ĥ_S(ẑ2|ẑ1)" : "Ĥ(z2|z1)"
    GIVEN_X = sphere ? "Ĥ_S(ẑ2|x)" : "Ĥ(z2|x)"
}

function finite(x) { return x ~ NUMBER }
function num(x) { return finite(x) ? sprintf("%.3f", x) : "nan" }
function interval(x, lo, hi) { return num(x) " [" num(lo) ", " num(hi) "]" }
function v(name) { return $(col[name]) }

NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }

{
    rows++
    step[rows] = v("step")
    chain[rows] = sprintf("| %s | %s | %s | %s × %s | %s | %s | %s | %s | %s | %s |", v("step"), v("dim_used"), v("n"),
                          v("views"), v("images"), interval(v("nll_r"), v("nll_r_lo"), v("nll_r_hi")),
                          interval(v("h_z_given_z1"), v("h_z_given_z1_lo"), v("h_z_given_z1_hi")),
                          interval(v("h_z_given_x"), v("h_z_given_x_lo"), v("h_z_given_x_hi")),
                          v("nll_vs_z1"), v("z1_vs_x"), v("verdict"))
    gap_only[rows] = interval(v("gap"), v("gap_lo"), v("gap_hi"))
    gap[rows] = sprintf("| %s | %s | %s | %s | %s |", v("step"), interval(v("gap"), v("gap_lo"), v("gap_hi")),
                        num(v("predictor_share")), num(v("family_share")), num(v("nll_r_opt")))
    count[v("verdict")]++
    paired += ("gap_interval" in col) && v("gap_interval") == "paired" # chain.csv files before it: combined
    if (v("nll_vs_z1") == "fails") fails = fails sprintf(", %s (%s below %s)", v("step"), NLL, GIVEN_Z1)
    if (v("z1_vs_x") == "fails") fails = fails sprintf(", %s (%s below %s)", v("step"), GIVEN_Z1, GIVEN_X)
    if (v("z1_vs_x") == "fails") second_fails = 1
    if (v("nll_vs_z1") == "fails") first_fails = 1
    dims[v("dim_used")] = 1; ns[v("n")] = 1; vs[v("views")] = 1
    last_gap = v("gap"); last_pred = v("predictor_share"); last_fam = v("family_share")
    if (finite(last_pred) && last_pred < 0) neg_pred = neg_pred ", " v("step")
    if (finite(last_fam) && last_fam < 0) neg_fam = neg_fam ", " v("step")
}

# "at step 40" or "at steps 40, 60" from a list ", 40, 60"; beyond 8 steps
# "at 52 of the 61 tracked steps, from 351 to 7020".
function at_steps(list,    parts, m) {
    m = split(substr(list, 3), parts, ", ")
    if (m > 8) return sprintf("at %d of the %d tracked steps, from %s to %s", m, rows, parts[1], parts[m])
    return (m > 1 ? "at steps " : "at step ") substr(list, 3)
}

# How the first link and the gap interval were judged: the paired interval of
# the gap (chain.awk) at every step, at none, or at some.
function link_rule() {
    if (paired == rows)
        return "The first link is judged on the paired interval of the gap (both terms on the same subsampled " \
               "rows, so their shared noise cancels): it holds when that interval lies above 0, holds within " \
               "noise when it contains 0, fails when it lies below. The second holds when its intervals are " \
               "ordered, holds within noise when they overlap, fails when they are reversed beyond them."
    return "A link holds when its intervals are ordered, holds within noise when they overlap, fails when " \
           "they are reversed beyond the intervals" \
           (paired ? sprintf("; at %d of the %d steps the first link is judged instead on the paired " \
                             "interval of the gap (above 0, containing 0, below 0), where track_detail.csv " \
                             "has one.", paired, rows) \
                   : " (track_detail.csv has no paired gap interval: written before it existed, or nan).")
}

function gap_rule() {
    if (paired == rows) return "The gap interval is the paired one (the difference subsampled)."
    if (paired) return sprintf("The gap interval is the paired one at %d of the %d steps, elsewhere the two " \
                               "intervals combined at their worst.", paired, rows)
    return "The gap interval combines the two intervals at their worst."
}

# The first link's failures: KSG's bias, which no interval covers, first.
function first_fail_note() {
    if (first_fails)
        printf "Where %s ≥ %s fails, KSG's bias is a candidate cause: %s reads high at large Î or d and " \
               "small N, by more than the intervals, which cover the estimates' noise, not their bias " \
               "(docs/design.md §1.6–1.7).\n", NLL, GIVEN_Z1, GIVEN_Z1
}

function sphere_section() {
    print "## The sphere chain E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) ≥ Ĥ_S(ẑ2|x)"
    print ""
    print "D = −cos is, up to constants, the NLL of a von Mises–Fisher density of ẑ2 = z2/‖z2‖ around"
    print "p̂1 on S^{d−1} (κ fitted): its chain takes every entropy on the sphere, w.r.t. surface measure"
    print "(k-NN with intrinsic dimension d − 1). In nats, 95 % subsampling intervals; d = z_dim here."
    print link_rule() " " gap_rule()
    print ""
    print "| step | d | N | V × images | E[NLL_vMF] | Ĥ_S(ẑ2\\|ẑ1) | Ĥ_S(ẑ2\\|x) | E[NLL] ≥ Ĥ_S(ẑ2\\|ẑ1) | Ĥ_S(ẑ2\\|ẑ1) ≥ Ĥ_S(ẑ2\\|x) | verdict | gap |"
    print "|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|"
    for (r = 1; r <= rows; r++) print chain[r] " " gap_only[r] " |"
    print ""
    printf "**Verdict over %d tracked steps: %d hold, %d hold within noise, %d fail, %d n/a.**\n", rows,
           count["holds"], count["holds within noise"], count["fails"], count["n/a"]
    if (fails != "") printf "Fails at step%s.\n", substr(fails, 2)
    first_fail_note()
}

END {
    if (sphere) { sphere_section(); exit }
    print "## The chain E[NLL_Q] ≥ Ĥ(z2|z1) ≥ Ĥ(z2|x)"
    print ""
    print "In nats, with 95 % subsampling intervals [low, high]. d = coordinates the k-NN estimates and"
    print "E[NLL_Q] (nll_r, Gaussian family with full covariance) are computed in; N = probe pairs (z1, z2)"
    print "for E[NLL_Q] and Ĥ(z2|z1); V × images = views per image × images for the per-image Ĥ(z2|x)."
    print link_rule()
    print ""
    print "| step | d | N | V × images | E[NLL_Q] | Ĥ(z2\\|z1) | Ĥ(z2\\|x) | E[NLL_Q] ≥ Ĥ(z2\\|z1) | Ĥ(z2\\|z1) ≥ Ĥ(z2\\|x) | verdict |"
    print "|---:|---:|---:|---:|---:|---:|---:|---|---|---|"
    for (r = 1; r <= rows; r++) print chain[r]
    print ""
    printf "**Verdict over %d tracked steps: %d hold, %d hold within noise, %d fail, %d n/a.**\n", rows,
           count["holds"], count["holds within noise"], count["fails"], count["n/a"]
    if (fails != "") printf "Fails at step%s.\n", substr(fails, 2)
    print ""
    for (d in dims) if (finite(d) && d + 0 < z_dim + 0) reduced = d
    if (z_dim !~ /^[0-9]+$/)
        print "z_dim unknown (no config.txt): whether d is a PCA reduction of z cannot be said."
    else if (reduced != "")
        printf "d = %s < z_dim = %s: the k-NN estimates and nll_r are on a PCA reduction of z to its first %s " \
               "principal coordinates, not the %s-dimensional values; the Gaussian and variational columns of " \
               "track.csv use all dimensions. The chain is then a heuristic (docs/design.md §1.8): p1 sees all of " \
               "z1, so nll_r bounds the entropy of the reduced z2 given the whole z1, and a verdict says the " \
               "reduced chain is ordered, not the %s-dimensional one; only d = z_dim makes it rigorous.\n",
               reduced, z_dim, reduced, z_dim, z_dim
    else
        printf "d = z_dim = %s: no reduction, every estimate is on all coordinates.\n", z_dim
    print "Ĥ(z2|z1) is estimated from N pairs, Ĥ(z2|x) from V views per image: k-NN estimates at different"
    print "sample sizes are not directly comparable, and per-image entropies from few views are biased upward"
    print "(docs/design.md §1: −1.39 nats at V = 16, −2.70 at V = 256 on one trained model)."
    if (second_fails)
        print "Where Ĥ(z2|z1) ≥ Ĥ(z2|x) fails, that upward bias at this V is a candidate cause."
    first_fail_note()
    if (length(ns) > 1 || length(vs) > 1) print "N or V changes between steps: compare those steps with care."
    print ""
    print "## The gap and its two shares"
    print ""
    print "gap = E[NLL_Q(h)] − Ĥ(z2|z1) = predictor share + family share, where h* is the best affine"
    print "predictor of z2 from z1 in the d coordinates above (least squares, 2-fold cross-fitted on the"
    print "probe set): predictor share ="
    print "E[NLL_Q(h)] − E[NLL_Q(h*)] (what a better predictor could remove), family share = E[NLL_Q(h*)] −"
    print "Ĥ(z2|z1) (what the Gaussian family misses of P(z2|z1)). " gap_rule() " Nats."
    print ""
    print "| step | gap | predictor share | family share | E[NLL_Q(h*)] |"
    print "|---:|---:|---:|---:|---:|"
    for (r = 1; r <= rows; r++) print gap[r]
    print ""
    printf "At the last tracked step (%s): gap %s = predictor share %s + family share %s nats.\n", step[rows],
           num(last_gap), num(last_pred), num(last_fam)
    if (neg_pred != "")
        print "The predictor share is negative " at_steps(neg_pred) ": the trained predictor (non-linear, and" \
              " seeing all of z1 when d < z_dim) beats the best affine one, so E[NLL_Q(h*)] is not the minimum" \
              " over all predictors and the family share is an upper bound."
    if (neg_fam != "")
        print "The family share is negative " at_steps(neg_fam) ": the best affine predictor's E[NLL_Q] is below" \
              " Ĥ(z2|z1), which the bound forbids; the k-NN estimate of Ĥ(z2|z1) is too high there (or the bound" \
              " fails)."
}
