/* kNN monitor: the label accuracy of a weighted k-nearest-neighbour vote in
 * the encoder's feature space, the standard cheap probe of SimSiam training
 * (InstDisc / the SimSiam CIFAR demo), logged to eval.csv by the trainer.
 *
 *   features  encoder output f (sm_model_embed, inference mode: BatchNorm
 *             running statistics), each row divided by max(‖f‖, 1e-12);
 *   bank      the training split, queries the test split;
 *   vote      the k = min(200, bank size) most cosine-similar bank rows (ties
 *             broken by the lower bank index), each adding exp(sim / 0.1) to
 *             its class; the prediction is the class with the largest sum
 *             (ties: the lower class).
 *
 * Similarities come from cblas_sgemm in chunks of queries, so memory is
 * chunk × bank floats, not test × train. */
#ifndef SM_SIMSIAM_KNN_MONITOR_H
#define SM_SIMSIAM_KNN_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "simsiam/model.h"

enum { SM_KNN_MONITOR_K = 200 };
#define SM_KNN_MONITOR_TEMPERATURE 0.1

/* Divide each of the n rows (d floats) by its l2 norm (rows of norm below
 * 1e-12 are divided by 1e-12, as torch.nn.functional.normalize). */
void sm_knn_monitor_normalize(float *rows, size_t n, size_t d);

/* Predicted labels of n_query L2-NORMALISED query rows against n_bank
 * L2-NORMALISED bank rows (d floats each) with labels < classes:
 * k = min(k, n_bank) neighbours, weights exp(sim / temperature).
 * n_bank >= 1, k >= 1, temperature > 0.  SM_ERR_DATA if memory runs out. */
int sm_knn_monitor_classify(const float *bank, const uint8_t *bank_labels, size_t n_bank,
                            const float *query, size_t n_query, size_t d, size_t classes, size_t k,
                            double temperature, uint8_t *pred, sm_status *st);

/* Accuracy in [0, 1] of the vote above on given features: bank (train->n
 * rows of d) against query (test->n rows), both l2-normalised in place
 * first, labels from the splits.  SM_ERR_DATA if memory runs out. */
int sm_knn_monitor_accuracy_of(float *bank, const sm_dataset *train, float *query, const sm_dataset *test, size_t d,
                               double *acc, sm_status *st);

/* Accuracy in [0, 1] of the monitor above for model m: train as the bank,
 * test as the queries (same image shape and class count as the model was
 * built for).  Uses view 0's activations (sm_model_embed): call it between
 * steps.  SM_ERR_DATA if memory runs out. */
int sm_knn_monitor_accuracy(sm_model *m, const sm_dataset *train, const sm_dataset *test, double *acc,
                            sm_status *st);

#endif
