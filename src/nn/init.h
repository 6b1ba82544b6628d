/* Weight initialisation matching PyTorch's defaults for nn.Conv2d and
 * nn.Linear: kaiming_uniform_(w, a = √5), i.e. U(−b, b) with
 * b = gain · √(3 / fan_in), gain = √(2 / (1 + a²)) = √(1/3), so b = 1/√fan_in;
 * the default bias init draws from the same U(−1/√fan_in, 1/√fan_in), so one
 * function serves both.  fan_in = in_features (linear) or c_in·k·k (conv).
 * (torchvision's ResNet re-initialises its convolutions with kaiming_normal_,
 * fan_out; this project follows the plain layer defaults.)
 * BatchNorm's init is sm_batchnorm_init. */
#ifndef SM_NN_INIT_H
#define SM_NN_INIT_H

#include <stddef.h>
#include "core/rng.h"

/* w[0 .. count) ~ U(−1/√fan_in, 1/√fan_in), drawn in order from rng. */
void sm_init_kaiming_uniform(float *w, size_t count, size_t fan_in, sm_rng *rng);

#endif
