/* simsiam-mi's public C API in one include (installed as
 * include/simsiam-mi/simsiam-mi.h; `pkg-config --cflags --libs simsiam-mi`):
 * the estimators over row-major double arrays, each with a workspace
 * (core/arena.h, may be NULL) and a status (core/status.h: SM_OK, or a code
 * and a one-line message), and the tracking row of a training run computed
 * from embeddings (simsiam/track.h).  Each header documents its functions;
 * docs/design.md §1 has the formulas.
 *
 *   sm_status st;
 *   sm_ksg1_result r;
 *   sm_mi_opts o = {.k = 3};
 *   if (sm_mi_ksg1(x, y, n, dx, dy, &o, &r, NULL, &st)) fprintf(stderr, "%s\n", st.msg);
 */
#ifndef SIMSIAM_MI_H
#define SIMSIAM_MI_H

#include "core/arena.h"
#include "core/export.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"
#include "estimators/affine.h"
#include "estimators/bound.h"
#include "estimators/entropy.h"
#include "estimators/gauss.h"
#include "estimators/knn.h"
#include "estimators/mi.h"
#include "estimators/mix.h"
#include "estimators/mlp.h"
#include "estimators/nll.h"
#include "estimators/prep.h"
#include "estimators/registry.h"
#include "estimators/resample.h"
#include "estimators/vmf.h"
#include "simsiam/track.h"

#endif
