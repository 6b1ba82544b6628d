# Training curves from a run's train.csv: SimSiam loss and the collapse metric z_std.
# usage: gnuplot -e "run='DIR'" plots/train.gp   → DIR/plots/train.png and DIR/plots/train.svg
if (!exists("run")) print "usage: gnuplot -e \"run='DIR'\" plots/train.gp"; exit status 2
set datafile separator ","
set key autotitle columnhead
set grid
set xlabel "optimizer step"

do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1000,420 font ",10" } else { set terminal svg size 1000,420 font ",10" }
    set output run."/plots/train.".fmt
    set multiplot layout 1,2 title "SimSiam on ".run
    set title "loss ½D(p1, sg(z2)) + ½D(p2, sg(z1)) (raw cosine values are not NLLs)"
    set ylabel "loss"
    plot run."/train.csv" using "step":"loss" with lines lw 2 title "loss"
    set title "collapse metric z\\_std (1 healthy, 0 collapsed)"
    set ylabel "z\\_std"
    set yrange [0:1.1]
    set key bottom right
    plot run."/train.csv" using "step":"z_std" with lines lw 2 title "z\\_std"
    unset yrange
    set key default
    unset multiplot
    unset output
}
