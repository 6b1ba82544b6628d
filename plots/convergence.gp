# The gap E[NLL_Q] − Ĥ(z2|z1) at a fixed encoder vs the predictor's refit steps (log x: refit
# step + 1), one curve per refit (checkpoint × fresh or continued predictor) with the 95% intervals
# as error bars, and each refit's floors as flat lines in its colour: the best affine predictor
# (dashed) and the MLP predictor (dotted), the family's share.
# Input: blocks separated by two blank lines, one per refit, rows "x,gap,gap_lo,gap_hi,floor_affine,
# floor_mlp" (analysis/convergence-report.sh writes them); titles: one word per block.
# usage: gnuplot -e "in='F.csv'; out='PREFIX'; titles='a b'; chain='gauss'" plots/convergence.gp   (optional: note)
if (!exists("in") || !exists("out") || !exists("titles")) print "usage: gnuplot -e \"in='BLOCKS.csv'; out='PREFIX'; titles='A B'\" plots/convergence.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("convergence.gp")]."common.gp"
width = 1000; height = 600
if (!exists("chain")) chain = "gauss"
n = words(titles)
set logscale x 2
set xlabel "refit step + 1 (predictor steps on the frozen encoder)"
set ylabel "nats"
set key outside right
set xzeroaxis lt -1
what = chain eq "sphere" ? "E[NLL_vMF] − Ĥ_S(ẑ2|ẑ1) on the sphere" : "E[NLL_full] − Ĥ(z2|z1); floors: affine dashed, MLP dotted"
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set title "gap at a fixed encoder: ".what.note
    if (chain eq "sphere") {
        plot for [i = 1:n] in index (i - 1) using 1:2:3:4 with yerrorlines lc i pt 7 title word(titles, i)
    } else {
        plot for [i = 1:n] in index (i - 1) using 1:2:3:4 with yerrorlines lc i pt 7 title word(titles, i), \
             for [i = 1:n] in index (i - 1) using 1:5 with lines lc i dt 2 notitle, \
             for [i = 1:n] in index (i - 1) using 1:6 with lines lc i dt 3 notitle
    }
    unset output
}
