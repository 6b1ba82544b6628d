# The bound gap E[NLL_Q] − Ĥ(z2|z1) at each run's last tracked step, with its two shares: predictor
# share E[NLL_Q(h)] − E[NLL_Q(h*)] and family share E[NLL_Q(h*)] − Ĥ(z2|z1) (h*: the best affine
# predictor).  x: the runs in the order of the experiment's runs file (e.g. pred_steps 1, 2, 5, 10,
# optimal, directpred; or the pred_lr_mult × pred_fixed_lr grid), labelled by run name.
# Input: the gap.csv that analysis/experiment-report.sh writes (columns index,run,gap,gap_lo,
# gap_hi,predictor_share,family_share,...).
# usage: gnuplot -e "in='RESULTS/gap.csv'; out='RESULTS/plots/gap'" plots/gap.gp   (optional: skip, note)
if (!exists("in") || !exists("out")) print "usage: gnuplot -e \"in='GAP.csv'; out='PREFIX'\" plots/gap.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("gap.gp")]."common.gp"
width = 900; height = 550
shares = kept("predictor_share family_share", 1)
set ylabel "nats"
set xlabel "run"
set xtics rotate by -30
# Half a slot either side of the runs (also keeps a single run's x range from being empty).
stats in using "index" nooutput
set xrange [STATS_min - 0.5 : STATS_max + 0.5]
set key above
set xzeroaxis lt -1
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set title "bound gap and its shares at the last tracked step".note
    if (words(kept("gap", 1)) > 0) {
        plot in using "index":"gap":"gap_lo":"gap_hi":xtic(stringcolumn("run")) with yerrorbars pt 7 ps 1.5 title label("gap"), \
             for [c in shares] in using "index":c with points pt 5 ps 1.5 title label(c)
    } else {
        @empty_panel
    }
    unset output
}
