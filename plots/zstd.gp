# The collapse metric z_std vs step for one run (≈1 healthy, 0 collapsed): the training batches
# (train.csv) and the probe set at the tracked steps (track.csv).
# usage: gnuplot -e "in='RUN/track.csv'; train='RUN/train.csv'; out='RUN/plots/zstd'" plots/zstd.gp
#        (optional: skip, note; train_skip, the columns of train.csv without a finite value)
if (!exists("in") || !exists("train") || !exists("out")) print "usage: gnuplot -e \"in='TRACK.csv'; train='TRAIN.csv'; out='PREFIX'\" plots/zstd.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("zstd.gp")]."common.gp"
if (!exists("train_skip")) train_skip = ""
width = 800; height = 450
# The training series, unless train.csv has no finite z_std (an empty for-list draws nothing).
train_kept = strstrt(" ".train_skip." ", " z_std ") > 0 ? "" : "z_std"
set xlabel "optimizer step"
set ylabel "z_std (no unit)"
set yrange [0:*]
set key bottom right
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set title "collapse metric z_std (1 healthy, 0 collapsed)".note
    if (train_kept.kept("z_std", 1) eq "") {
        @empty_panel
    } else {
        plot for [t in train_kept] train using "step":t with lines lw 2 title "z_std, training batches", \
             for [c in kept("z_std", 1)] in using "step":c with points pt 7 ps 1.2 title label(c)
    }
    unset output
}
