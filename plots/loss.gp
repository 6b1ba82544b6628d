# Loss and E[NLL_Q] vs step for one run: the SimSiam loss (training batches from train.csv, the
# probe set from track.csv), the Gaussian NLLs, and the von Mises–Fisher NLL on its own panel (a
# density on the unit sphere: another measure, not comparable with the Gaussian ones).  Values of
# different units never share an axis: the cosine training loss shares the probe loss's, the gauss
# one (an NLL in nats) is drawn with the Gaussian NLLs, any other (l2, or not recorded) has the
# first panel's left axis and the probe loss its right one.
# usage: gnuplot -e "in='RUN/track.csv'; train='RUN/train.csv'; out='RUN/plots/loss'" plots/loss.gp
#        (optional: loss, the run's loss key; skip='columns without a finite value'; note=' subtitle';
#        train_skip, the columns of train.csv without a finite value)
if (!exists("in") || !exists("train") || !exists("out")) print "usage: gnuplot -e \"in='TRACK.csv'; train='TRAIN.csv'; out='PREFIX'\" plots/loss.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("loss.gp")]."common.gp"
width = 1500; height = 520
gaussian = kept("nll_l2 nll_iso nll_diag nll_full", 1)
vmf = kept("nll_vmf", 1)
probe = kept("loss_cos", 1)
if (!exists("train_skip")) train_skip = ""
# Where the training loss goes (an empty for-list draws nothing), and whether the first panel needs
# a right axis for the probe loss (an axis without a point is an error: only when both are drawn).
train_kept = strstrt(" ".train_skip." ", " loss ") > 0 ? "" : "loss"
train_first = loss eq "gauss" ? "" : train_kept
train_gaussian = loss eq "gauss" ? train_kept : ""
two_axes = loss ne "cosine" && train_first ne "" && probe ne ""
probe_axes = two_axes ? "x1y2" : "x1y1"
set xlabel "optimizer step"
# under the panels: inside, the legend covered the curves (they start high and fall on every side)
set key below left Left reverse
# the same margins in every panel, however many legend lines each has below it
set tmargin at screen 0.86; set bmargin at screen 0.30
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set multiplot layout 1,3 title "SimSiam loss and E[NLL_Q] vs step".note
    set title loss eq "gauss" ? "probe loss (not an NLL)" : loss eq "cosine" ? "SimSiam loss (not an NLL)" : \
        two_axes ? "SimSiam loss: training (left axis), probe (right axis)" : "SimSiam loss"
    set ylabel train_first eq "" ? "probe loss (negative cosine, no unit)" : \
        loss eq "cosine" ? "loss (negative cosine, no unit)" : "training loss (".loss_unit.")"
    if (two_axes) {
        set y2label "probe loss (negative cosine, no unit)"
        set y2tics; set ytics nomirror
    }
    if (words(train_first.probe) > 0) {
        plot for [t in train_first] train using "step":t with lines lw 2 title label(t), \
             for [c in probe] in using "step":c axes @probe_axes with linespoints pt 7 title label(c)
    } else {
        @empty_panel
    }
    unset y2label; unset y2tics; set ytics mirror
    set title loss eq "gauss" ? "Gaussian families, mean p1, and the training loss" : "Gaussian families, mean p1"
    set ylabel "E[NLL_Q] (nats)"
    if (words(train_gaussian.gaussian) > 0) {
        plot for [t in train_gaussian] train using "step":t with lines lw 2 title label(t), \
             for [c in gaussian] in using "step":c with linespoints pt 7 title label(c)
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
