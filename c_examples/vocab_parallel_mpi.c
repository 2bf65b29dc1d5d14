/* Vocabulary-parallel cross-entropy over MPI with mergeable log-sum-exp states.
 *
 * N processes each hold a vocabulary shard (a block of columns) of a batch of logits. Each
 * computes one softmax_lse_state per row of its shard, ONE MPI_Allreduce with a user-defined
 * operation (softmax_lse_merge_rows over 16-byte states) gives every process the state of the
 * whole rows, and each process then computes its shard's loss contributions and its shard of
 * the gradient. The contributions are summed (a second, ordinary reduction, of the losses
 * only) and rank 0 checks the loss and the gradient against the single-process
 * softmax_cross_entropy_rows_f32 of the whole batch.
 *
 *   cargo build --release
 *   mpicc -std=c99 -O2 -I include c_examples/vocab_parallel_mpi.c \
 *         target/release/libsoftmax.a -lpthread -ldl -lm -o vocab_parallel_mpi
 *   mpirun -np 4 ./vocab_parallel_mpi [rows] [classes]
 *
 * The library itself does not depend on MPI. Exit status 0 when the check passes.
 */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softmax.h"

#define IGNORE_INDEX (-100)
#define SMOOTHING 0.1f

/* The MPI reduction: element-wise merge of arrays of states. */
static void lse_merge_op(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    if (softmax_lse_merge_rows((const softmax_lse_state *)in, (softmax_lse_state *)inout,
                               (size_t)*len) != SOFTMAX_STATUS_OK) {
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
}

/* Deterministic logits, the same on every process (each then keeps only its shard). */
static float logit(size_t r, size_t c) {
    uint64_t s = (uint64_t)r * 0x9E3779B97F4A7C15ull + (uint64_t)c * 0xBF58476D1CE4E5B9ull + 1;
    s ^= s >> 31;
    s *= 0x94D049BB133111EBull;
    s ^= s >> 29;
    return (float)(s >> 40) / 16777216.0f * 24.0f - 12.0f;
}

#define CHECK(call)                                                                    \
    do {                                                                               \
        softmax_status st_ = (call);                                                   \
        if (st_ != SOFTMAX_STATUS_OK) {                                                \
            fprintf(stderr, "%s failed: %s\n", #call, softmax_status_string(st_));     \
            MPI_Abort(MPI_COMM_WORLD, 2);                                              \
        }                                                                              \
    } while (0)

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t rows = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 8;
    size_t vocab = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 50000;
    if (rows == 0 || vocab < (size_t)size) {
        if (rank == 0) fprintf(stderr, "need rows > 0 and classes >= processes\n");
        MPI_Finalize();
        return 1;
    }

    /* This process's shard: columns [off, off + cols). */
    size_t base = vocab / (size_t)size, extra = vocab % (size_t)size;
    size_t cols = base + ((size_t)rank < extra);
    size_t off = (size_t)rank * base + ((size_t)rank < extra ? (size_t)rank : extra);
    float *shard = malloc(rows * cols * sizeof(float));
    float *grad = malloc(rows * cols * sizeof(float));
    int64_t *targets = malloc(rows * sizeof(int64_t));
    softmax_lse_state *states = malloc(rows * sizeof(softmax_lse_state));
    float *losses = malloc(rows * sizeof(float));
    double *contrib = malloc(rows * sizeof(double)), *total = malloc(rows * sizeof(double));
    if (!shard || !grad || !targets || !states || !losses || !contrib || !total) {
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) shard[r * cols + c] = logit(r, off + c);
        /* Every fourth row is padding (ignored); the others target a pseudo-random class. */
        targets[r] = r % 4 == 3 ? IGNORE_INDEX : (int64_t)((r * 7919 + 13) % vocab);
        states[r] = softmax_lse_empty();
    }

    /* 1. The state of each row of this shard (one read of the shard). */
    CHECK(softmax_logsumexp_accumulate_rows_f32(shard, cols, rows, cols, states));

    /* 2. One all-reduce of `rows` 16-byte states with the merge as the operation. */
    MPI_Datatype lse_type;
    MPI_Op lse_op;
    MPI_Type_contiguous((int)sizeof(softmax_lse_state), MPI_BYTE, &lse_type);
    MPI_Type_commit(&lse_type);
    MPI_Op_create(lse_merge_op, 1 /* commutative */, &lse_op);
    MPI_Allreduce(MPI_IN_PLACE, states, (int)rows, lse_type, lse_op, MPI_COMM_WORLD);

    /* 3. This shard's loss contributions and its columns of the gradient. */
    CHECK(softmax_cross_entropy_shard_rows_f32(shard, cols, rows, cols, off, vocab, targets,
                                               IGNORE_INDEX, SMOOTHING, states, losses, grad,
                                               cols));
    for (size_t r = 0; r < rows; r++) contrib[r] = losses[r];
    MPI_Reduce(contrib, total, (int)rows, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);

    /* The check: the single-process loss and gradient of the whole batch, computed on every
     * process (each compares its own gradient columns; rank 0 the losses). */
    float *all = malloc(rows * vocab * sizeof(float));
    float *all_grad = malloc(rows * vocab * sizeof(float));
    float *ref = malloc(rows * sizeof(float));
    if (!all || !all_grad || !ref) MPI_Abort(MPI_COMM_WORLD, 1);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < vocab; c++) all[r * vocab + c] = logit(r, c);
    CHECK(softmax_cross_entropy_rows_f32(all, vocab, rows, vocab, targets, IGNORE_INDEX, SMOOTHING, ref,
                                 all_grad, vocab));
    double grad_err = 0.0, worst_grad = 0.0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            double g = all_grad[r * vocab + off + c];
            double e = fabs(grad[r * cols + c] - g) / (1.0 + fabs(g));
            if (e > grad_err) grad_err = e;
        }
    }
    MPI_Reduce(&grad_err, &worst_grad, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);

    int ok = 1;
    if (rank == 0) {
        double mean = 0.0, mean_ref = 0.0, worst = 0.0;
        size_t counted = 0;
        for (size_t r = 0; r < rows; r++) {
            float lse = softmax_lse_value(states[r]);
            double scale = fabs(lse) > 1.0 ? fabs(lse) : 1.0;
            double e = fabs(total[r] - ref[r]) / scale;
            if (e > worst) worst = e;
            if (targets[r] != IGNORE_INDEX) {
                mean += total[r];
                mean_ref += ref[r];
                counted++;
            }
        }
        mean /= (double)counted;
        mean_ref /= (double)counted;
        ok = worst <= 5e-7 && worst_grad <= 5e-7;
        printf("vocab-parallel cross-entropy on %s: %d process%s, %zu rows x %zu classes, "
               "label smoothing %.1f, %zu rows ignored\n",
               softmax_isa_name(softmax_get_isa()), size, size == 1 ? "" : "es", rows, vocab,
               (double)SMOOTHING, rows - counted);
        printf("one MPI_Allreduce of %zu states (%zu bytes each) with a user-defined MPI_Op\n",
               rows, sizeof(softmax_lse_state));
        printf("mean loss, sharded:       %.7f\n", mean);
        printf("mean loss, one process:   %.7f (softmax_cross_entropy_rows_f32)\n", mean_ref);
        printf("worst loss difference %.2e of max(1, |lse|), worst gradient difference %.2e\n",
               worst, worst_grad);
        printf("%s\n", ok ? "OK" : "FAIL");
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);

    MPI_Op_free(&lse_op);
    MPI_Type_free(&lse_type);
    free(all);
    free(all_grad);
    free(ref);
    free(shard);
    free(grad);
    free(targets);
    free(states);
    free(losses);
    free(contrib);
    free(total);
    MPI_Finalize();
    return ok ? 0 : 1;
}
