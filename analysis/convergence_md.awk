# The tables and the computed conclusion of a refit experiment's report, from
# the convergence.csv of analysis/convergence.awk:
#   awk -v loss_of="l2=l2 cosine=cosine" -f analysis/convergence_md.awk convergence.csv
# loss_of maps each source run to its training loss: the chain that matches
# the loss (l2, gauss: gauss; cosine: sphere) is reported first and carries the
# conclusion; the other is shown for comparison.
# Per refit: the gap at refit step 0 and at the last step with their intervals,
# the fall of E[NLL_Q] (and whether the two rows' intervals are disjoint), the
# family's floors at the last step (best affine and MLP predictor, mixture Q),
# and the E[NLL_Q] ≥ Ĥ(z2|z1) link over all rows.  Refits of one source run,
# checkpoint and predictor (fresh or trained) at several refit_lr: the gap of
# the loss's own Q per rate at the tracked refit steps, and the rates compared
# where they differ most and at the last step.
BEGIN {
    FS = ","
    NUMBER = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
    n = split(loss_of, pairs, " ")
    for (i = 1; i <= n; i++) { split(pairs[i], kv, "="); loss[kv[1]] = kv[2] }
    NAME["gauss"] = "Gaussian chain: E[NLL_full] ≥ Ĥ(z2|z1) in R^d"
    NAME["sphere"] = "sphere chain: E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) on S^{d−1}"
}
function finite(x) { return x ~ NUMBER }
function num(x) { return finite(x) ? sprintf("%.3f", x) : x }
function abs(x) { return x < 0 ? -x : x }
function iv(x, lo, hi) { return num(x) " [" num(lo) ", " num(hi) "]" }
function v(name) { return $(col[name]) }
function matching(src) { return loss[src] == "cosine" ? "sphere" : "gauss" }

NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
    key = v("source") SUBSEP v("chain") SUBSEP v("refit")
    if (!(key in seen)) {
        seen[key] = 1; order[++nkeys] = key
        if (!((v("source") SUBSEP v("chain")) in group)) { group[v("source"), v("chain")] = 1; groups[++ngroups] = v("source") SUBSEP v("chain") }
        first[key] = $0
    }
    last[key] = $0
    links[key, v("link")]++
    all_links[v("chain"), v("link")]++
    rows++; paired += ("gap_interval" in col) && v("gap_interval") == "paired" # convergence.csv before it: combined
    if (v("chain") == matching(v("source"))) by_rate(v("source") SUBSEP v("checkpoint_step") SUBSEP v("mode"))
}

# The own chain's gap per (group, rate, refit step), for the rate comparison.
function by_rate(g,    r, t) {
    r = v("refit_lr"); t = v("refit_step")
    if (!(g in rates)) order_rates[++nrate_groups] = g
    if (!((g, r) in seen_rate)) { seen_rate[g, r] = 1; rates[g] = rates[g] " " r }
    if (!((g, t) in seen_step)) { seen_step[g, t] = 1; steps[g] = steps[g] " " t }
    gap_at[g, r, t] = v("gap")
    width_at[g, r, t] = finite(v("nll_lo")) && finite(v("nll_hi")) ? v("nll_hi") - v("nll_lo") : "nan"
}

# The words of list, sorted as numbers, into out[1..n]; returns n.
function sorted(list, out,    n, i, j, x) {
    n = split(list, out, " ")
    for (i = 2; i <= n; i++) { x = out[i]; for (j = i - 1; j >= 1 && out[j] + 0 > x + 0; j--) out[j + 1] = out[j]; out[j + 1] = x }
    return n
}

# "lr a: gap, lr b: gap, ... (smallest with lr x; E[NLL]'s intervals ±w on average)" at step t:
# the rates share Ĥ (one encoder, the same probe views), so E[NLL]'s interval is what
# separates them.
function rate_list(g, r, nr, t,    i, s, best, w, nw) {
    best = 1
    for (i = 1; i <= nr; i++) {
        s = s sprintf("%slr %s: %s", (i > 1 ? ", " : ""), r[i], num(gap_at[g, r[i], t]))
        if (gap_at[g, r[i], t] + 0 < gap_at[g, r[best], t] + 0) best = i
        if (finite(width_at[g, r[i], t])) { w += width_at[g, r[i], t] / 2; nw++ }
    }
    return s sprintf(" (smallest with lr %s%s)", r[best], (nw ? sprintf("; E[NLL]'s intervals ±%.3f on average", w / nw) : ""))
}

# Is every rate's gap at step t finite?
function all_finite(g, r, nr, t,    i) {
    for (i = 1; i <= nr; i++) if (!((g, r[i], t) in gap_at) || !finite(gap_at[g, r[i], t])) return 0
    return 1
}

function rate_section(g,    p, r, nr, t, nt, i, k, lo, hi, spread, widest, falls, last_common) {
    split(g, p, SUBSEP)
    nr = sorted(rates[g], r); nt = sorted(steps[g], t)
    printf "### %s at checkpoint step %s, %s predictor: the gap vs refit_lr (%s)\n\n", p[1], p[2],
           (p[3] == "reinit" ? "a fresh" : "the trained"), NAME[matching(p[1])]
    printf "| refit_lr |"; for (k = 1; k <= nt; k++) if (shown(t[k], t[nt])) printf " step %s |", t[k]; print ""
    printf "| ---: |"; for (k = 1; k <= nt; k++) if (shown(t[k], t[nt])) printf " ---: |"; print ""
    for (i = 1; i <= nr; i++) {
        printf "| %s |", r[i]
        for (k = 1; k <= nt; k++) if (shown(t[k], t[nt])) printf " %s |", ((g, r[i], t[k]) in gap_at ? num(gap_at[g, r[i], t[k]]) : "")
        print ""
    }
    print ""
    widest = ""
    for (k = 1; k <= nt; k++) {
        if (!all_finite(g, r, nr, t[k])) continue
        lo = hi = gap_at[g, r[1], t[k]]
        for (i = 2; i <= nr; i++) { if (gap_at[g, r[i], t[k]] + 0 < lo + 0) lo = gap_at[g, r[i], t[k]]; if (gap_at[g, r[i], t[k]] + 0 > hi + 0) hi = gap_at[g, r[i], t[k]] }
        if (widest == "" || hi - lo > spread) { widest = t[k]; spread = hi - lo }
        last_common = t[k]
    }
    if (widest == "") return
    falls = 1
    for (i = 2; i <= nr; i++) if (gap_at[g, r[i], widest] + 0 >= gap_at[g, r[i - 1], widest] + 0) falls = 0
    rate_lines = rate_lines sprintf("- **The predictor's learning rate** (%s, checkpoint step %s, %s predictor, the loss's own Q): the gaps differ most at refit step %s (by %.3f nats): %s: %s. At the last step%s (%s): %s.\n",
        p[1], p[2], (p[3] == "reinit" ? "a fresh" : "the trained"), widest, spread, rate_list(g, r, nr, widest),
        (falls ? "the gap is smaller at each larger rate" : "the gap does not fall at each larger rate"),
        (last_common == t[nt] ? "" : " where every rate's gap is finite"), last_common, rate_list(g, r, nr, last_common))
}

# The refit steps a rate table shows: 0, the powers of 4 and the last.
function shown(t, last,    x) {
    if (t == 0 || t == last) return 1
    for (x = 1; x < t; x *= 4) ;
    return x == t
}

function field(row, name,    f) { split(row, f, ","); return f[col[name]] }

function table(src, chain,    k, parts, f, l, fall, floor, best, row, side, bound) {
    printf "### %s: %s%s\n\n", src, NAME[chain], (chain == matching(src) ? " (the loss's own Q)" : " (for comparison)")
    print "| refit | checkpoint step | predictor | refit_lr | gap at refit step 0 | gap at the last step | E[NLL] fall (disjoint intervals?) | floor: affine | floor: MLP | gap with mixture Q | link E[NLL] ≥ Ĥ: holds / noise / fails |"
    print "| --- | ---: | --- | ---: | --- | --- | --- | ---: | ---: | ---: | --- |"
    for (k = 1; k <= nkeys; k++) {
        split(order[k], parts, SUBSEP)
        if (parts[1] != src || parts[2] != chain) continue
        f = first[order[k]]; l = last[order[k]]
        fall = finite(field(f, "nll")) && finite(field(l, "nll")) ? field(f, "nll") - field(l, "nll") : "nan"
        disjoint = fall != "nan" && finite(field(f, "nll_lo")) && finite(field(l, "nll_hi")) ? (field(f, "nll_lo") + 0 > field(l, "nll_hi") + 0 ? "yes" : "no") : "n/a"
        # The cell answers the column's question both ways: an E[NLL] that rose beyond its
        # interval is "yes, rose", not "no"; `disjoint` still counts falls only.
        nllcell = disjoint == "no" && finite(field(l, "nll_lo")) && finite(field(f, "nll_hi")) && field(l, "nll_lo") + 0 > field(f, "nll_hi") + 0 ? "yes, rose" : disjoint
        printf "| %s | %s | %s | %s | %s | %s (step %s) | %s (%s) | %s | %s | %s | %d / %d / %d |\n", parts[3],
               field(l, "checkpoint_step"), field(l, "mode"), field(l, "refit_lr"),
               iv(field(f, "gap"), field(f, "gap_lo"), field(f, "gap_hi")),
               iv(field(l, "gap"), field(l, "gap_lo"), field(l, "gap_hi")), field(l, "refit_step"),
               num(fall), nllcell, num(field(l, "floor_affine")), num(field(l, "floor_mlp")), num(field(l, "gap_mix")),
               links[order[k], "holds"], links[order[k], "within noise"], links[order[k], "fails"]
        if (chain == matching(src)) {
            refits++
            if (disjoint == "yes") fell++
            else notfell = notfell " " parts[3] (disjoint == "n/a" ? " (nan)" : "")
            best = field(l, "floor_affine")
            if (finite(field(l, "floor_mlp")) && (!finite(best) || field(l, "floor_mlp") + 0 < best + 0)) best = field(l, "floor_mlp")
            if (finite(best) && !finite(field(l, "gap"))) undecided = undecided " " parts[3]
            else if (finite(best)) {
                floored++
                # within 0.05 nats, or within E[NLL]'s interval on the floor's side, above or below it
                residual = field(l, "gap") - best
                bound = residual > 0 ? "nll_lo" : "nll_hi" # the side of E[NLL]'s interval facing the floor
                side = finite(field(l, "nll")) && finite(field(l, bound)) ? abs(field(l, "nll") - field(l, bound)) : ""
                if (abs(residual) <= 0.05 || (side != "" && abs(residual) <= side)) near++
                else if (residual > 0) far = far sprintf(" %s (%.3f above)", parts[3], residual)
                else under = under sprintf(" %s (%.3f below)", parts[3], -residual)
            }
            if (finite(field(l, "gap_mix")) && finite(field(l, "gap"))) { nmix++; mix_sum += field(l, "gap") - field(l, "gap_mix") }
            if (finite(field(l, "gap_mix")) && field(l, "gap_mix") + 0 < 0) below = below sprintf(" %s (%.3f)", parts[3], field(l, "gap_mix"))
            at = src SUBSEP field(l, "checkpoint_step")
            if (field(l, "mode") == "reinit") fresh_end[at] = field(l, "nll")
            else trained_start[at] = field(f, "nll")
        }
    }
    print ""
}

END {
    print "## The gap at a fixed encoder vs the predictor's steps"
    print ""
    printf "gap = E[NLL_Q] − Ĥ(z2|z1) with 95%% subsampling intervals (%s); the link E[NLL] ≥ Ĥ %s;\n",
           paired == rows ? "paired: the difference subsampled, both terms on the same rows" \
                          : paired ? sprintf("paired at %d of %d rows, elsewhere the two intervals combined at their worst", paired, rows) \
                                   : "the two intervals combined at their worst",
           paired == rows ? "holds when the gap's interval lies above 0, fails below it, is within noise when it holds 0" \
                          : "holds when the intervals are ordered, fails when reversed, is within noise when they overlap" \
                            (paired ? " (the paired rows: the gap's interval against 0)" : "")
    print "floor = E[NLL_Q] of the best affine / MLP predictor on the same frozen z (cross-fitted) minus Ĥ(z2|z1):"
    print "the family's share, which no predictor can remove; gap with mixture Q = E[NLL] of a Gaussian mixture"
    print "on the residual z2 − h(z1) (cross-fitted) minus Ĥ(z2|z1). The k-NN columns are the same at every"
    print "row of a refit (same encoder, same probe views): only the predictor changes."
    print ""
    for (g = 1; g <= ngroups; g++) { split(groups[g], p, SUBSEP); if (p[2] == matching(p[1])) table(p[1], p[2]) }
    for (g = 1; g <= ngroups; g++) { split(groups[g], p, SUBSEP); if (p[2] != matching(p[1])) table(p[1], p[2]) }
    for (g = 1; g <= nrate_groups; g++) {
        if (split(rates[order_rates[g]], tmp, " ") < 2) continue
        if (!rate_heading++) { print "## The gap vs the predictor's learning rate"; print "" }
        rate_section(order_rates[g])
    }
    print "## Conclusion (computed)"
    print ""
    printf "- E[NLL_Q] of the loss's own Q fell from refit step 0 to the last step by more than its interval in %d of %d refits%s.\n",
           fell, refits, (notfell != "" ? "; not in:" notfell : "")
    if (floored) printf "- The last gap came within 0.05 nats (or within E[NLL]'s interval) of the best floor in %d of %d refits with a floor%s%s.\n",
           near, floored, (far != "" ? "; above it in:" far : ""),
           (under != "" ? "; below it in:" under " (the predictor beat the floor's cross-fitted fit, so the floor overstates the family's share there)" : "")
    if (undecided != "") printf "- The last gap is nan, so it cannot be set against the floor, in:%s.\n", undecided
    for (c = 1; c <= 2; c++) {
        ch = c == 1 ? "gauss" : "sphere"
        t = all_links[ch, "holds"] + all_links[ch, "within noise"] + all_links[ch, "fails"]
        if (t) printf "- %s: the link held at %d of %d tracked rows, within noise at %d, failed at %d%s.\n", NAME[ch],
               all_links[ch, "holds"], t, all_links[ch, "within noise"], all_links[ch, "fails"],
               (all_links[ch, "fails"] ? " — a failure contradicts the bound (or the estimators' bias; see README)" : "")
    }
    for (at in trained_start) {
        if (!(at in fresh_end) || !finite(trained_start[at]) || !finite(fresh_end[at])) continue
        npairs++
        delta = trained_start[at] - fresh_end[at]
        if (npairs == 1 || delta > max_delta) max_delta = delta
        if (npairs == 1 || delta < min_delta) min_delta = delta
    }
    if (npairs) printf "- The trained predictor (continue, refit step 0) against a fresh one after all its refit steps, at the same checkpoint: E[NLL_Q] differs by %.3f to %.3f nats over %d checkpoints (positive: the trained one is worse).\n", min_delta, max_delta, npairs
    if (nmix && mix_sum >= 0) printf "- The mixture Q on the residual lowered the last gap by %.3f nats on average (%d refits): the part of the family share that is the Gaussian form of the residual.\n", mix_sum / nmix, nmix
    if (nmix && mix_sum < 0) printf "- The mixture Q on the residual raised the last gap by %.3f nats on average (%d refits): scored on held-out halves it fits the residual worse than the Gaussian Q at this probe size, so it does not measure the Gaussian form's part of the family share here.\n", -mix_sum / nmix, nmix
    printf "%s", rate_lines
    if (below != "") printf "- E[NLL] of the mixture Q is BELOW Ĥ(z2|z1) at the last step in:%s. A valid normalised Q cannot go below H(z2|z1), so there the k-NN estimate Ĥ(z2|z1) reads high by at least that much (KSG's known bias in a few dimensions per side), and the family share is not resolved below it.\n", below
}
