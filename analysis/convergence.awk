# The gap at a fixed encoder vs the predictor's refit steps, from the refit.csv
# files of a refit experiment (simsiam-mi refit; experiments/predictor_convergence):
#   awk -f analysis/links.awk -f analysis/convergence.awk refit=NAME source=RUN mode=reinit|continue lr=R DIR/refit.csv ... > convergence.csv
# (each file checked by check_csv.awk first).  Two chains per row of refit.csv:
#   gauss   E[NLL_full] (nll_r, dim_used coordinates) against Ĥ(z2|z1), with the
#           floors of the Gaussian family: the best affine predictor (nll_r_opt)
#           and the MLP predictor (nll_mlp), and the mixture family (nll_mix),
#           each minus Ĥ(z2|z1);
#   sphere  E[NLL_vMF] (nll_vmf) against Ĥ_S(ẑ2|ẑ1) (h_s_given_z1), on S^{d−1};
#           no floors (nan).
# Output columns: refit,source,mode,chain,checkpoint_step,refit_step,x (refit_step + 1,
# for a log axis),nll,nll_lo,nll_hi,h,h_lo,h_hi,gap,gap_lo,gap_hi (the paired
# interval, gap_lo/gap_hi or gap_s_lo/gap_s_hi of refit.csv, or without one the
# two intervals combined at their worst),floor_affine,floor_mlp,gap_mix,link
# (E[NLL] vs Ĥ: holds / within noise / fails / n/a, as analysis/links.awk
# decides it),refit_lr,gap_interval (paired or combined).
BEGIN {
    FS = ","; OFS = ","
    print "refit,source,mode,chain,checkpoint_step,refit_step,x,nll,nll_lo,nll_hi,h,h_lo,h_hi,gap,gap_lo,gap_hi," \
          "floor_affine,floor_mlp,gap_mix,link,refit_lr,gap_interval"
}

function v(name) { return (name in col) ? $(col[name]) : "nan" }

function emit(chain, nll, nlo, nhi, h, hlo, hhi, plo, phi, fa, fm, mix) {
    judge_gap(nll, nlo, nhi, h, hlo, hhi, plo, phi, g)
    print refit, source, mode, chain, v("step"), v("refit_step"), v("refit_step") + 1, nll, nlo, nhi, h, hlo, hhi,
          g["gap"], g["lo"], g["hi"], diff(fa, h), diff(fm, h), diff(mix, h), g["link"], lr, g["rule"]
}

FNR == 1 { delete col; for (i = 1; i <= NF; i++) col[$i] = i; next }
{
    emit("gauss", v("nll_r"), v("nll_r_lo"), v("nll_r_hi"), v("h_z_given_z1"), v("h_z_given_z1_lo"),
         v("h_z_given_z1_hi"), v("gap_lo"), v("gap_hi"), v("nll_r_opt"), v("nll_mlp"), v("nll_mix"))
    emit("sphere", v("nll_vmf"), v("nll_vmf_lo"), v("nll_vmf_hi"), v("h_s_given_z1"), v("h_s_given_z1_lo"),
         v("h_s_given_z1_hi"), v("gap_s_lo"), v("gap_s_hi"), "nan", "nan", "nan")
}
