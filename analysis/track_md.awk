# The "last tracked step" section of a run's report.md: every column of the
# last row of track.csv with what it measures.
#   awk -f analysis/track_md.awk DIR/track.csv
BEGIN {
    FS = ","
    NUMBER = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
    m["loss_cos"] = "symmetric negative cosine on the probe set (no unit, not an NLL)"
    m["nll_l2"] = "E[NLL] under N(p1, I), nats"
    m["nll_iso"] = "E[NLL] under N(p1, σ²I), σ² fitted, nats"
    m["nll_diag"] = "E[NLL] under N(p1, diag s²), nats"
    m["nll_full"] = "E[NLL] under N(p1, Σ_r), nats"
    m["nll_vmf"] = "E[NLL] under von Mises–Fisher on the unit sphere, nats (sphere measure: compare with sphere entropies only)"
    m["kappa"] = "vMF concentration κ"
    m["h_z_kl"] = "Ĥ(z2), Kozachenko–Leonenko on the dim_used coordinates, nats"
    m["h_z_gauss"] = "Ĥ(z2) of a Gaussian with z2's covariance, all dimensions (an upper bound), nats"
    m["h_z_given_z1"] = "Ĥ(z2\\|z1), KSG-1 neighbour structure, dim_used coordinates, nats"
    m["h_z_given_x"] = "Ĥ(z2\\|x), per-image KL entropy of the views, dim_used coordinates, nats"
    m["i_ksg"] = "Î(z1;z2), KSG-1 on whitened dim_used coordinates, nats"
    m["i_gauss"] = "Î(z1;z2), Gaussian, all dimensions, nats"
    m["i_ba"] = "Barber–Agakov bound Ĥ(z2) − E[NLL_full], nats"
    m["i_infonce"] = "InfoNCE bound with critic log Q_full(z2; h(z1)), nats (never above infonce_cap)"
    m["infonce_cap"] = "log N, the most InfoNCE can show, nats"
    m["z_std"] = "collapse metric (≈1 healthy, 0 collapsed)"
    m["dim_used"] = "coordinates of the k-NN columns (principal coordinates when below z_dim)"
}

NR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; width = NF; next }
{ for (i = 1; i <= NF; i++) last[i] = $i }

END {
    print "## Last tracked step (track.csv)"
    print ""
    print "| quantity | value | what it is |"
    print "|---|---:|---|"
    for (i = 1; i <= width; i++) {
        value = last[i]
        if (value ~ NUMBER && value !~ /^-?[0-9]+$/) value = sprintf("%.4g", value)
        printf "| %s | %s | %s |\n", name[i], value, ((name[i] in m) ? m[name[i]] : "")
    }
}
