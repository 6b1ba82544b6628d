/* simsiam-mi: entry point and subcommand dispatch (docs/design.md §2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "cli/cli.h"
#include "core/threads.h"
#include "dist/dist.h"
#include "io/config.h"

static const cli_command COMMANDS[] = {
    {"train", "train SimSiam and track loss, entropies and mutual information",
     "usage: simsiam-mi train [--config FILE ...] [key=value ...]\n"
     "  Files apply in order, then key=value; later wins.  example: simsiam-mi train epochs=20 out=runs/fm20\n"
     "keys [default]:\n",
     cli_train, sm_config_print_keys},
    {"estimate", "entropy, mutual information, NLL and bounds from .npy/CSV samples",
     "usage:\n"
     "  simsiam-mi estimate entropy --x A.npy [--estimator E] [--k 3] [options]\n"
     "  simsiam-mi estimate mi --x A.npy --y B.npy [--estimator E] [--k 3] [options]\n"
     "  simsiam-mi estimate nll --z Z.npy --p P.npy [--family F]\n"
     "                          [--components K] [--seed N]   (mix: K Gaussians on z - p)\n"
     "  simsiam-mi estimate bound --z1 A.npy --z2 B.npy --p1 P.npy [--family F] [--k 3]\n"
     "options: --whiten  --noise S  --seed N  --subsample B  --threads T  --ridge R\n"
     "  k-NN estimators take --k, --whiten, --noise; Gaussian ones --ridge (added to the\n"
     "  covariance's diagonal); --subsample is for entropy and mi.  bound takes --k and\n"
     "  --noise and whitens KSG-1's blocks itself, as the tracker.  nll --family mix is\n"
     "  held out (fitted on each half of the rows, scored on the other; K default 4).\n"
     "  Inputs: .npy (float32/float64, 1-D or 2-D, C or Fortran order) or text (CSV or\n"
     "  whitespace-separated); rows are samples.\n"
     "  Output: one JSON line on stdout, values in nats.\n"
     "  --list: the estimators, tab-separated (kind, name, default, doc).\n"
     "  example: simsiam-mi estimate mi --x z1.npy --y z2.npy --estimator ksg1 --k 3\n",
     cli_estimate, cli_estimate_help},
    {"embed", "write embeddings z of a checkpoint's encoder to .npy",
     "usage: simsiam-mi embed --checkpoint F --out Z.npy [--views V] [--split train|test] [--n N]\n"
     "  z of the model in inference mode, float32.  --views 1 (default): the first N\n"
     "  un-augmented images of the split (default train, N default all), shape (N, z_dim);\n"
     "  with the run's holdout > 0 the test split is the held-out training images.\n"
     "  --views V >= 2: V augmented views per image (fixed augmentation step 0, so the\n"
     "  file is reproducible), shape (N*V, z_dim), image-major: image i's views are rows\n"
     "  i*V .. i*V+V-1.\n"
     "  example: simsiam-mi embed --checkpoint runs/x/checkpoint.bin --out z.npy --views 2\n",
     cli_embed, NULL},
    {"eval", "kNN or linear-probe accuracy of a checkpoint",
     "usage: simsiam-mi eval --checkpoint F [--probe knn|linear] [--features encoder|encoder-centred|\n"
     "                                                       pixels|pixels-centred]\n"
     "  Accuracy on the test split (the held-out images when the checkpoint's holdout > 0)\n"
     "  of the frozen encoder's features f.  knn (default): the training monitor's weighted\n"
     "  200-NN vote against the train split.  linear: softmax regression on standardised f,\n"
     "  100 epochs of SGD (batch 256, lr 0.1 cosine-decayed to 0, momentum 0.9, wd 1e-4,\n"
     "  seeded) on the train split.\n"
     "  --features pixels | pixels-centred: the raw-pixel baselines (byte / 255, optionally\n"
     "  minus the training split's mean image) through the same probe; --checkpoint then only\n"
     "  names the data set (default: the default configuration's, Fashion-MNIST).\n"
     "  --features encoder-centred: f minus its training-split mean, to set beside pixels-centred.\n"
     "  Output: {\"probe\":...,\"features\":...,\"accuracy\":...,\"n_train\":...,\"n_test\":...,\"seconds\":...}\n"
     "  example: simsiam-mi eval --checkpoint runs/x/checkpoint.bin --probe linear\n",
     cli_eval, NULL},
    {"track", "the tracking of a training run, offline, on a checkpoint",
     "usage: simsiam-mi track --checkpoint F [key=value ...]  |  simsiam-mi track --columns\n"
     "  One tracking event on the checkpoint's model at its step, with the run's\n"
     "  configuration: prints track.csv's header and row (columns: README.md).\n"
     "  Keys: track_samples, track_views, track_images, track_mix, track_resamples,\n"
     "  seed, threads;\n"
     "  out=DIR also writes DIR/track.csv and DIR/track_detail.csv (never over\n"
     "  existing files).\n"
     "  --columns: every tracked column with the files that carry it, unit and meaning.\n"
     "  example: simsiam-mi track --checkpoint runs/x/checkpoint.bin track_samples=2048\n",
     cli_track, NULL},
    {"refit", "retrain the predictor alone on a checkpoint's frozen encoder, tracked",
     "usage: simsiam-mi refit --checkpoint F [key=value ...]\n"
     "  Freezes encoder and projector, trains only the predictor for refit_steps steps\n"
     "  (constant refit_lr, refit_batch images, fresh seeded views; refit_reinit=1 starts\n"
     "  from a new predictor, 0 from the checkpoint's) and runs a tracking event on fixed\n"
     "  probe views at refit steps 0, 1, 2, 4, ..., refit_steps.  Output: OUT/refit.csv\n"
     "  (refit_step, then the columns of track.csv and track_detail.csv) and\n"
     "  OUT/refit_config.txt; OUT defaults to <checkpoint dir>/refit-<name>-<reinit|continue>.\n"
     "  Keys: refit_steps [512], refit_lr [0.05], refit_reinit [1], refit_batch [256],\n"
     "  track_samples, track_views, track_images, track_mix, track_resamples, seed,\n"
     "  threads, out.\n"
     "  example: simsiam-mi refit --checkpoint runs/x/checkpoint.bin refit_steps=1024\n",
     cli_refit, NULL},
};
static const size_t NCOMMANDS = sizeof COMMANDS / sizeof COMMANDS[0];

static void print_help(FILE *f)
{
    fprintf(f, "simsiam-mi %s: SimSiam training with mutual-information tracking\n\n"
               "usage: simsiam-mi --help | --version\n"
               "       simsiam-mi <command> [--help] [arguments]\n\ncommands:\n", SM_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nExit codes: 0 success, 1 runtime or data error, 2 usage error; train: 130 or 143 when\n"
               "stopped by SIGINT or SIGTERM (its checkpoint written at the step boundary).\n");
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *best = COMMANDS[0].name;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        size_t d = cli_edit_distance(name, COMMANDS[i].name);
        if (d < best_d) {
            best_d = d;
            best = COMMANDS[i].name;
        }
    }
    if (best_d <= 3) return cli_error(2, "unknown command '%s' (did you mean '%s'?)", name, best);
    return cli_error(2, "unknown command '%s' (see simsiam-mi --help)", name);
}

/* The processes a launcher started this one among (OpenMPI's mpirun, or
 * MPICH's), and this one's rank; 1 and 0 when not launched as several. */
static long launched_processes(long *rank)
{
    static const char *const SIZE[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    static const char *const RANK[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof SIZE / sizeof *SIZE; i++) {
        const char *size = getenv(SIZE[i]), *r = getenv(RANK[i]);
        if (size && atol(size) > 1) {
            *rank = r ? atol(r) : 0;
            return atol(size);
        }
    }
    *rank = 0;
    return 1;
}

/* Only simsiam-mi-mpi's train runs as several processes: anything else
 * under mpirun would run as that many copies writing the same files.
 * Refused on every process, said once (by rank 0). */
static int refuse_copies(const cli_command *cmd)
{
    long rank;
    const long n = launched_processes(&rank);
    if (n == 1 || (sm_dist_parallel_build() && strcmp(cmd->name, "train") == 0)) return 0;
    if (rank != 0) return 2;
    if (sm_dist_parallel_build())
        return cli_error(2, "'%s' runs as one process, launched as %ld (mpirun): only train runs data-parallel; run "
                            "'%s' without mpirun", cmd->name, n, cmd->name);
    return cli_error(2, "this build runs as one process, launched as %ld (mpirun): data-parallel training is "
                        "build/simsiam-mi-mpi train", n);
}

int main(int argc, char **argv)
{
    sm_threads_exec_with_better_blas(argv);
    /* Library code reports GSL failures as status codes; GSL's default
     * handler would abort() instead. */
    gsl_set_error_handler_off();
    if (argc < 2) return cli_error(2, "missing command (see simsiam-mi --help)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("simsiam-mi %s\n", SM_VERSION);
        return 0;
    }
    const cli_command *cmd = find_command(argv[1]);
    if (!cmd) return unknown_command(argv[1]);
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(cmd->usage, stdout);
        if (cmd->more_help) cmd->more_help(stdout);
        return 0;
    }
    if (refuse_copies(cmd)) return 2;
    return cmd->run(argc - 1, argv + 1);
}
