# Î(z1;z2) vs the probe loss, the tracked steps of each run joined in step order.  One run (the run
# report): every estimator in its own colour.  Several runs (the experiment report): one colour per
# run for Î_KSG.  Input: track.csv, or blocks of its columns step,loss_cos,i_… (each block with its
# header, blocks separated by two blank lines) in the order of `runs`.
# usage: gnuplot -e "in='FILE'; out='PREFIX'; runs='run names'" plots/mi_loss.gp
#        (optional: series='i_ksg ...' [default: all four estimators], skip, note)
if (!exists("in") || !exists("out") || !exists("runs")) print "usage: gnuplot -e \"in='FILE'; out='PREFIX'; runs='NAMES'\" plots/mi_loss.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("mi_loss.gp")]."common.gp"
if (!exists("series")) series = "i_ksg i_gauss i_ba i_infonce"
width = 800; height = 550
# No x values, no points at all.
shown = strstrt(" ".skip." ", " loss_cos ") > 0 ? "" : kept(series, 1)
title_of(i, c) = words(runs) == 1 ? label(c) : words(shown) == 1 ? word(runs, i) : word(runs, i).": ".label(c)
set xlabel "probe loss ½D(p1,z2) + ½D(p2,z1) (negative cosine, no unit)"
set ylabel "Î(z1;z2) (nats)"
set key above
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set title "mutual information vs loss across tracked steps".note
    if (words(shown) > 0) {
        plot for [i = 1:words(runs)] for [c in shown] in index (i - 1) using "loss_cos":c with linespoints pt 7 title title_of(i, c)
    } else {
        @empty_panel
    }
    unset output
}
