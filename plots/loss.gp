# Loss and E[NLL_Q] vs step for one run: the SimSiam loss (training batches from train.csv, the
# probe set from track.csv), the Gaussian NLLs, and the von Mises–Fisher NLL on its own panel (a
# density on the unit sphere: another measure, not comparable with the Gaussian ones).
# usage: gnuplot -e "in='RUN/track.csv'; train='RUN/train.csv'; out='RUN/plots/loss'" plots/loss.gp
#        (optional: skip='columns without a finite value'; note=' subtitle')
if (!exists("in") || !exists("train") || !exists("out")) print "usage: gnuplot -e \"in='TRACK.csv'; train='TRAIN.csv'; out='PREFIX'\" plots/loss.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("loss.gp")]."common.gp"
width = 1500; height = 450
gaussian = kept("nll_l2 nll_iso nll_diag nll_full", 1)
vmf = kept("nll_vmf", 1)
set xlabel "optimizer step"
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set multiplot layout 1,3 title "SimSiam loss and E[NLL_Q] vs step".note
    set title "SimSiam loss (not an NLL)"
    set ylabel "loss (negative cosine for loss=cosine, no unit)"
    plot train using "step":"loss" with lines lw 2 title label("loss"), \
         for [c in kept("loss_cos", 1)] in using "step":c with linespoints pt 7 title label(c)
    set title "Gaussian families, mean p1"
    set ylabel "E[NLL_Q] (nats)"
    if (words(gaussian) > 0) {
        plot for [c in gaussian] in using "step":c with linespoints pt 7 title label(c)
    } else {
        @empty_panel
    }
    set title "von Mises–Fisher on the unit sphere (another measure)"
    set ylabel "E[NLL_vMF] (nats, sphere measure)"
    if (words(vmf) > 0) {
        plot in using "step":"nll_vmf" with linespoints pt 7 title label("nll_vmf")
    } else {
        @empty_panel
    }
    unset multiplot
    unset output
}
