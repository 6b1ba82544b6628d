# Entropies and mutual informations vs step for one run (track.csv): Ĥ(z2) two ways, Ĥ(z2|z1),
# Ĥ(z2|x); Î(z1;z2) by KSG-1, Gaussian, Barber–Agakov and InfoNCE, with InfoNCE's cap log N dashed.
# usage: gnuplot -e "in='RUN/track.csv'; out='RUN/plots/info'" plots/info.gp   (optional: skip, note)
if (!exists("in") || !exists("out")) print "usage: gnuplot -e \"in='TRACK.csv'; out='PREFIX'\" plots/info.gp"; exit status 2
load ARG0[1:strlen(ARG0) - strlen("info.gp")]."common.gp"
width = 1200; height = 450
entropies = kept("h_z_kl h_z_gauss h_z_given_z1 h_z_given_x", 1)
informations = kept("i_ksg i_gauss i_ba i_infonce", 1)
set xlabel "optimizer step"
set key bottom right
do for [fmt in "png svg"] {
    @set_terminal
    set output out.".".fmt
    set multiplot layout 1,2 title "entropies and mutual information vs step".note
    set title "entropies of z2"
    set ylabel "Ĥ (nats)"
    if (words(entropies) > 0) {
        plot for [c in entropies] in using "step":c with linespoints pt 7 title label(c)
    } else {
        @empty_panel
    }
    set title "mutual information and its lower bounds"
    set ylabel "Î(z1;z2) (nats)"
    if (words(informations) > 0) {
        plot for [c in informations] in using "step":c with linespoints pt 7 title label(c), \
             for [c in kept("infonce_cap", 1)] in using "step":c with lines dt 2 lc "black" title label(c)
    } else {
        @empty_panel
    }
    unset multiplot
    unset output
}
