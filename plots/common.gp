# Shared by the plot scripts (each loads it from its own directory).
# Every script writes out.".png" and out.".svg"; `skip` lists CSV columns with
# no finite value (analysis/lib.sh: empty_columns), which are left out of the
# plots because gnuplot warns about, or refuses, a series without a valid point.
if (!exists("skip")) skip = ""
if (!exists("note")) note = ""
# The run's training loss (config.txt's `loss`, passed by analysis/run-report.sh) says what the
# values of train.csv's loss are (docs/design.md §1.4): a negative cosine is not an NLL, l2 is the
# l2 NLL less its constant, gauss the isotropic Gaussian NLL in nats.  "": not recorded.
if (!exists("loss")) loss = ""
set datafile separator ","
set grid
# noenhanced: column names such as h_z_given_x are printed as written.
png_terminal = strstrt(GPVAL_TERMINALS, "pngcairo") > 0 ? "pngcairo" : "png"
# With fmt = "png" or "svg" and width, height set:  @set_terminal
set_terminal = 'if (fmt eq "svg") { set terminal svg size width,height font ",10" noenhanced } else { set terminal @png_terminal size width,height font ",10" noenhanced }'

# The words of `list` that are not in `skip` (from word i on).
kept(list, i) = i > words(list) ? "" : \
    (strstrt(" ".skip." ", " ".word(list, i)." ") > 0 ? "" : word(list, i)." ").kept(list, i + 1)
# A panel whose series are all empty says so instead of failing.
empty_panel = 'set xrange [0:1]; set yrange [0:1]; set label 99 "no finite values" at graph 0.5, 0.5 center; plot NaN notitle; unset label 99; set autoscale'

# The training loss's D (of ½D(p1, sg(z2)) + ½D(p2, sg(z1))) and the unit of its values.
loss_d = loss eq "cosine" ? "D = −cos (not an NLL)" : \
    loss eq "l2" ? "D = ½‖p − z‖², the l2 NLL without its constant (d/2) log 2π" : \
    loss eq "gauss" ? "D = NLL of N(p, σ̂²I), σ̂² fitted on the batch" : "D not recorded (no loss in config.txt)"
loss_unit = loss eq "cosine" ? "negative cosine, no unit" : loss eq "l2" ? "nats, up to (d/2) log 2π" : \
    loss eq "gauss" ? "nats" : "unit unknown"

# Legend text of a column.
label(c) = \
    c eq "loss" ? (loss eq "gauss" ? "training loss, NLL N(p, σ̂²I) (batch)" : "training loss (batch, ".loss_unit.")") : \
    c eq "loss_cos" ? "probe loss, negative cosine" : \
    c eq "nll_l2" ? "E[NLL] N(p1, I)" : \
    c eq "nll_iso" ? "E[NLL] N(p1, σ²I)" : \
    c eq "nll_diag" ? "E[NLL] N(p1, diag s²)" : \
    c eq "nll_full" ? "E[NLL] N(p1, Σ)" : \
    c eq "nll_vmf" ? "E[NLL] von Mises–Fisher" : \
    c eq "h_z_kl" ? "Ĥ(z2) Kozachenko–Leonenko (dim_used coordinates)" : \
    c eq "h_z_gauss" ? "Ĥ(z2) Gaussian, all z_dim coordinates (upper bound)" : \
    c eq "h_z_given_z1" ? "Ĥ(z2|z1) KSG" : \
    c eq "h_z_given_x" ? "Ĥ(z2|x) per image" : \
    c eq "i_ksg" ? "Î(z1;z2) KSG-1" : \
    c eq "i_gauss" ? "Î(z1;z2) Gaussian" : \
    c eq "i_ba" ? "Î Barber–Agakov" : \
    c eq "i_infonce" ? "Î InfoNCE" : \
    c eq "infonce_cap" ? "InfoNCE cap log N" : \
    c eq "z_std" ? "z_std, probe set" : \
    c eq "nll_r" ? "E[NLL_Q] (trained h)" : \
    c eq "nll_r_opt" ? "E[NLL_Q] (best affine h*)" : \
    c eq "gap" ? "gap E[NLL_Q] − Ĥ(z2|z1)" : \
    c eq "predictor_share" ? "predictor share E[NLL_Q(h)] − E[NLL_Q(h*)]" : \
    c eq "family_share" ? "family share E[NLL_Q(h*)] − Ĥ(z2|z1)" : c
