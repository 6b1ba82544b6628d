# The generated conclusion on the gap: how the gap E[NLL_Q] - H(z2|z1) and its
# two shares change with each key varied between the runs of an experiment,
# from the gap.csv that experiment-report.sh writes (one row per run with a
# tracked chain: its last tracked step, plus one column per varied key).
#   awk -v keys="pred_steps pred_mode" -f analysis/trend.awk gap.csv
# For each varied key, runs that agree on every other varied key form a group;
# a group of two or more runs gets one Markdown bullet.  A numeric key orders
# the group and the gap "decreases" / "increases" only when every step in that
# order goes that way ("is not monotone" otherwise); a word key (pred_mode) is
# compared value by value.  The change is set against the typical (median)
# width of the gap intervals in the group, so a trend smaller than the noise is
# called that (and the bold head says "within noise" when the group's whole
# range of gaps is).  Runs with a negative share are listed: the split is then not
# what docs/design.md section 1 means by it; so are runs whose gap is nan,
# which stay in their groups (a direction through them "cannot be followed").
BEGIN { FS = ","; NUMBER = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$" }

function finite(x) { return x ~ NUMBER }
function num(x) { return finite(x) ? sprintf("%.3f", x) : "nan" }

NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; nk = split(keys, key, " "); next }
{
    n++
    run[n] = $(col["run"])
    value["gap", n] = $(col["gap"])
    value["predictor share", n] = $(col["predictor_share"])
    value["family share", n] = $(col["family_share"])
    width[n] = finite($(col["gap_lo"])) && finite($(col["gap_hi"])) ? $(col["gap_hi"]) - $(col["gap_lo"]) : ""
    for (k = 1; k <= nk; k++) setting[k, n] = $(col[key[k]])
}

# The runs of members (space-separated indices) sorted by key k: numerically
# when every value is a number, else as listed.
function order(members, k,    m, i, j, t, idx, numeric) {
    m = split(members, idx, " ")
    numeric = 1
    for (i = 1; i <= m; i++) if (!finite(setting[k, idx[i]])) numeric = 0
    for (i = 2; numeric && i <= m; i++)
        for (j = i; j > 1 && setting[k, idx[j - 1]] + 0 > setting[k, idx[j]] + 0; j--) {
            t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t
        }
    sorted = ""
    for (i = 1; i <= m; i++) sorted = sorted " " idx[i]
    return numeric
}

# "decreases" / "increases" / "does not change" / "is not monotone" along the sorted runs.
function direction(q, members,    m, i, idx, down, up, d) {
    m = split(members, idx, " ")
    down = up = 1
    for (i = 2; i <= m; i++) {
        if (!finite(value[q, idx[i]]) || !finite(value[q, idx[i - 1]])) return "cannot be followed (nan)"
        d = value[q, idx[i]] - value[q, idx[i - 1]]
        if (d >= 0) down = 0
        if (d <= 0) up = 0
    }
    if (down) return "decreases"
    if (up) return "increases"
    return "is not monotone"
}

function listing(q, members, k,    m, i, idx, s) {
    m = split(members, idx, " ")
    for (i = 1; i <= m; i++) s = s (i > 1 ? ", " : "") key[k] "=" setting[k, idx[i]] ": " num(value[q, idx[i]])
    return s
}

function smallest(q, members, k,    m, i, idx, best) {
    m = split(members, idx, " ")
    best = 0
    for (i = 1; i <= m; i++)
        if (finite(value[q, idx[i]]) && (!best || value[q, idx[i]] + 0 < value[q, best] + 0)) best = idx[i]
    return best ? key[k] "=" setting[k, best] : "none (nan)"
}

# max - min of quantity q over the members ("" when a value is nan).
function range(q, members,    m, i, idx, lo, hi) {
    m = split(members, idx, " ")
    for (i = 1; i <= m; i++) {
        if (!finite(value[q, idx[i]])) return ""
        if (i == 1 || value[q, idx[i]] + 0 < lo) lo = value[q, idx[i]] + 0
        if (i == 1 || value[q, idx[i]] + 0 > hi) hi = value[q, idx[i]] + 0
    }
    return hi - lo
}

# Runs where a share is negative, as "run (value), ...".
# The runs where quantity q is negative, "run (value)" joined by ", "; with gap_is
# "finite" or "nan", only the runs whose gap is that.
function negatives(q, gap_is,    r, s) {
    for (r = 1; r <= n; r++)
        if (finite(value[q, r]) && value[q, r] < 0 && (gap_is == "" || (gap_is == "finite") == finite(value["gap", r])))
            s = s (s == "" ? "" : ", ") run[r] " (" num(value[q, r]) ")"
    return s
}

function median_width(members,    m, i, j, idx, w, c, t) {
    m = split(members, idx, " ")
    c = 0
    for (i = 1; i <= m; i++) if (width[idx[i]] != "") w[++c] = width[idx[i]] + 0
    if (c == 0) return ""
    for (i = 2; i <= c; i++) for (j = i; j > 1 && w[j - 1] > w[j]; j--) { t = w[j]; w[j] = w[j - 1]; w[j - 1] = t }
    return c % 2 ? w[(c + 1) / 2] : (w[c / 2] + w[c / 2 + 1]) / 2
}

function others(k, r,    j, s) {
    for (j = 1; j <= nk; j++) if (j != k) s = s (s == "" ? "" : ", ") key[j] "=" setting[j, r]
    return s == "" ? "all runs" : s
}

function describe(k, g, members,    numeric, w, m, idx, change, spread, within, q, qs, nq, i) {
    numeric = order(members, k)
    members = sorted
    w = median_width(members)
    m = split(members, idx, " ")
    nq = split("gap,predictor share,family share", qs, ",")
    # every run's gap within the typical width of the others': the group's differences are noise
    spread = range("gap", members)
    within = spread != "" && w != "" && spread <= w + 0
    if (numeric) {
        printf "- **The gap %s with %s%s** (%s; last tracked step): %s nats.", direction("gap", members), key[k],
               within ? ", within noise" : "", g, listing("gap", members, k)
        if (finite(value["gap", idx[m]]) && finite(value["gap", idx[1]])) {
            change = value["gap", idx[m]] - value["gap", idx[1]]
            if (w == "") printf " Change %s nats (no interval to compare with).", num(change)
            else printf " Change %s nats, %s the typical interval width %s.", num(change),
                        ((change < 0 ? -change : change) > w + 0 ? "larger than" : "within"), num(w)
        }
        for (i = 2; i <= nq; i++)
            printf " The %s %s (%s).", qs[i], direction(qs[i], members), listing(qs[i], members, k)
    } else {
        printf "- **The gap by %s** (%s; last tracked step): %s nats; smallest with %s.", key[k], g,
               listing("gap", members, k), smallest("gap", members, k)
        if (spread != "" && w != "")
            printf " Spread %s nats, %s the typical interval width %s.", num(spread), within ? "within" : "larger than",
                   num(w)
        for (i = 2; i <= nq; i++)
            printf " The %s: %s; smallest with %s.", qs[i], listing(qs[i], members, k), smallest(qs[i], members, k)
    }
    printf "\n"
}

END {
    if (n == 0) { print "- No run has a tracked chain: nothing to say about the gap."; exit }
    if (nk == 0) print "- No key varies between the runs: no trend of the gap to report."
    for (k = 1; k <= nk; k++) {
        ng = 0
        split("", group_of); split("", group_name)
        for (r = 1; r <= n; r++) {
            g = others(k, r)
            if (!(g in group_of)) { group_name[++ng] = g; group_of[g] = "" }
            group_of[g] = group_of[g] " " r
        }
        said = 0
        for (i = 1; i <= ng; i++)
            if (split(group_of[group_name[i]], tmp, " ") >= 2) { describe(k, group_name[i], group_of[group_name[i]]); said = 1 }
        if (!said) printf "- %s: no two runs differ in %s alone.\n", key[k], key[k]
    }
    for (r = 1; r <= n; r++)
        if (!finite(value["gap", r])) nan_runs = nan_runs (nan_runs == "" ? "" : ", ") run[r]
    if (nan_runs != "")
        printf "- **The gap is nan** at the last tracked step of %s (an estimator could not run there: its " \
               "track.csv row and the run's stderr say why); the trends above cannot follow the gap through it.\n", nan_runs
    if ((s = negatives("predictor share", "finite")) != "")
        printf "- **The predictor share is negative** in %s: there the trained predictor's E[NLL_Q] is below that of " \
               "the cross-fitted affine h*, so h* is not the minimum over predictors and the split of the gap into " \
               "shares says little: the family share is overstated, and the gap is the better upper bound on it.\n", s
    if ((s = negatives("predictor share", "nan")) != "")
        printf "- **The predictor share is negative** in %s, whose gap is nan: the trained predictor's E[NLL_Q] is " \
               "below that of the cross-fitted affine h*, and with no gap nothing there bounds the family share.\n", s
    if ((s = negatives("family share")) != "")
        printf "- **The family share is negative** in %s: E[NLL_Q(h*)] below Ĥ(z2|z1) contradicts the bound, so " \
               "Ĥ(z2|z1) is overestimated there (k-NN bias at this N and dimension) or the bound fails.\n", s
}
