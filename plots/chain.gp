# The chain E[NLL_Q] ≥ Ĥ(z2|z1) ≥ Ĥ(z2|x) vs step for one run, with the 95% subsampling intervals
# as error bars, and E[NLL_Q] of the best affine predictor dashed (the gap's predictor share is the
# distance from it to E[NLL_Q], the family share from it down to Ĥ(z2|z1)).
# Input: the chain.csv that analysis/chain.awk makes from track.csv and track_detail.csv.
# With what='...' the title names another chain; sphere=1 labels the sphere chain of chain.awk -v sphere=1.
# usage: gnuplot -e "in='RUN/chain.csv'; out='RUN/plots/chain'" plots/chain.gp   (optional: skip, note, what, sphere)
if (!exists("in") || !exists("out")) print "usage: gnuplot -e \"in='CHAIN.csv'; out='PREFIX'\" plots/chain.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("chain.gp")]."common.gp"
width = 1000; height = 550
if (!exists("what")) what = "E[NLL_Q] ≥ Ĥ(z2|z1) ≥ Ĥ(z2|x) on the dim_used coordinates"
sphere = exists("sphere") ? sphere + 0 : 0   # "1" as a string from analysis/lib.sh render
# The sphere chain's columns carry the Gaussian chain's names (analysis/chain.awk -v sphere=1).
chain_label(c) = !sphere ? label(c) : \
    c eq "nll_r" ? "E[NLL_vMF] (trained h)" : c eq "h_z_given_z1" ? "Ĥ_S(ẑ2|ẑ1) KSG" : \
    c eq "h_z_given_x" ? "Ĥ_S(ẑ2|x) per image" : label(c)
chain = kept("nll_r h_z_given_z1 h_z_given_x", 1)
set xlabel "optimizer step"
set ylabel "nats"
set key above
set offsets graph 0.02, graph 0.02, 0, 0
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set title what.", 95% intervals".note
    if (words(chain) > 0) {
        plot for [c in chain] in using "step":c:(column(c."_lo")):(column(c."_hi")) with yerrorlines pt 7 title chain_label(c), \
             for [c in kept("nll_r_opt", 1)] in using "step":c with lines dt 2 lw 2 title chain_label(c)
    } else {
        @empty_panel
    }
    unset output
}
