# Training curves from a run's train.csv: SimSiam loss and the collapse metric z_std.
# usage: gnuplot -e "run='DIR'" plots/train.gp   → DIR/plots/train.png and DIR/plots/train.svg
#        (optional: skip, the columns of train.csv without a finite value: their panel says so;
#        loss, the run's loss key: the loss panel's title and unit)
if (!exists("run")) print "usage: gnuplot -e \"run='DIR'\" plots/train.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("train.gp")]."common.gp"
width = 1000; height = 420
set xlabel "optimizer step"

do for [fmt in "png svg"] {
    @set_terminal
    set output run."/plots/train.".fmt
    set multiplot layout 1,2 title "SimSiam on ".run
    set title "loss ½D(p1, sg(z2)) + ½D(p2, sg(z1)),\n".loss_d
    set ylabel "loss (".loss_unit.")"
    # one curve, named by the title and the axis: a legend would only cover it
    if (kept("loss", 1) eq "") { @empty_panel } else { plot run."/train.csv" using "step":"loss" with lines lw 2 notitle }
    set title "collapse metric z_std (1 healthy, 0 collapsed)"
    set ylabel "z_std"
    set key bottom right
    if (kept("z_std", 1) eq "") { @empty_panel } else { set yrange [0:1.1]; plot run."/train.csv" using "step":"z_std" with lines lw 2 title "z_std"; unset yrange }
    set key default
    unset multiplot
    unset output
}
