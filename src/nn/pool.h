/* Global average pooling: x (n × c × hw) → y (n × c), the mean of each
 * feature map.  Backward spreads dy / hw over the map, accumulating (+=) into
 * dx like every src/nn backward (see conv2d.h). */
#ifndef SM_NN_POOL_H
#define SM_NN_POOL_H

#include <stddef.h>

void sm_pool_forward(size_t n, size_t c, size_t hw, const float *x, float *y);
void sm_pool_backward(size_t n, size_t c, size_t hw, const float *dy, float *dx);

#endif
