/*
 * cemdiff_mpi.c -- data-parallel training of libcemdiff on MPI: the
 * optional layer of docs/SCALING.md.  The library knows nothing of MPI; this
 * program gives each rank a trainer (cem_trainer_set_reduce) whose reduce
 * callback combines the ranks' micro-batches through MPI.  Any other engine
 * (NCCL, Gloo, a host's own) could stand in its place.
 *
 *   mpirun -np N bin/cemdiff-mpi train --data circle --steps 4000 -o m.cem
 *   bin/cemdiff-mpi compare a.cem b.cem       (the largest weight difference)
 *
 * Every rank draws the same data (a built-in dataset from its seed, or the
 * same CSV file) and makes the same trainer; rank 0 alone writes the model,
 * the checkpoints and the progress.  The reduction is `ordered` (every
 * rank's micro-batch gradients gathered to every rank, MPI_Allgatherv, and
 * added in micro-batch order: bitwise one process with the same
 * --accumulate, for (N - 1)/N A np floats received per rank a step) or
 * `allreduce` (each rank adds its own micro-batches, then one MPI_Allreduce
 * of np floats: equal to one process to round-off, and what scales).  A
 * failure on any rank prints it, with the rank, and ends the job
 * (MPI_Abort), so no rank waits for a partner that is gone.
 */
#define _POSIX_C_SOURCE 200809L
#include <cemdiff.h>
#include <mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_world;

/* Ends the job from any rank with a message that names it. */
static void die(const char *what, const char *why)
{
    fprintf(stderr, "cemdiff-mpi: rank %d of %d: %s: %s\n", g_rank, g_world, what, why);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1); /* not reached */
}

#define CHECK(call)                                                                   \
    do {                                                                              \
        if ((call) != CEM_OK)                                                         \
            die(#call, cem_last_error());                                             \
    } while (0)

/* ------------------------------------------------------------ the reduction */

typedef struct {
    int ordered;
    int accumulate;
    float *all_grad;   /* ordered: accumulate x n */
    double *all_stats; /* ordered: accumulate x m */
    int *counts, *displs; /* ordered: each rank's micro-batches and the first */
    double seconds;    /* spent in the reduction, this rank */
} reducer;

/* The micro-batches of rank r: [r A / world, (r + 1) A / world), as the
 * library assigns them (cemdiff.h, cem_trainer_set_reduce). */
static int first_of(int r, int A) { return (int)((long long)r * A / g_world); }

static int reduce_mpi(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                      void *user)
{
    reducer *rd = user;
    double t0 = MPI_Wtime();
    int rc = MPI_SUCCESS;
    MPI_Datatype gtype, stype;
    if (MPI_Type_contiguous((int)n, MPI_FLOAT, &gtype) != MPI_SUCCESS ||
        MPI_Type_contiguous((int)m, MPI_DOUBLE, &stype) != MPI_SUCCESS)
        return 1;
    MPI_Type_commit(&gtype);
    MPI_Type_commit(&stype);
    if (rd->ordered) {
        (void)first;
        if (!rd->all_stats && !(rd->all_stats = malloc(sizeof(double) * m * (size_t)rd->accumulate)))
            rc = MPI_ERR_NO_MEM;
        if (rc == MPI_SUCCESS)
            rc = MPI_Allgatherv(grad, parts, gtype, rd->all_grad, rd->counts, rd->displs, gtype,
                            MPI_COMM_WORLD);
        if (rc == MPI_SUCCESS)
            rc = MPI_Allgatherv(stats, parts, stype, rd->all_stats, rd->counts, rd->displs,
                                stype, MPI_COMM_WORLD);
        /* the library's order: block 0, then each next block added */
        for (int k = 0; rc == MPI_SUCCESS && k < rd->accumulate; k++) {
            const float *g = rd->all_grad + (size_t)k * n;
            const double *s = rd->all_stats + (size_t)k * m;
            for (size_t i = 0; i < n; i++)
                grad[i] = k ? grad[i] + g[i] : g[i];
            for (size_t i = 0; i < m; i++)
                stats[i] = k ? stats[i] + s[i] : s[i];
        }
    } else {
        for (int k = 1; k < parts; k++) { /* this rank's micro-batches, in order */
            for (size_t i = 0; i < n; i++)
                grad[i] += grad[(size_t)k * n + i];
            for (size_t i = 0; i < m; i++)
                stats[i] += stats[(size_t)k * m + i];
        }
        if (parts == 0) {
            memset(grad, 0, sizeof(float) * n);
            memset(stats, 0, sizeof(double) * m);
        }
        rc = MPI_Allreduce(MPI_IN_PLACE, grad, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc == MPI_SUCCESS)
            rc = MPI_Allreduce(MPI_IN_PLACE, stats, (int)m, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
    MPI_Type_free(&gtype);
    MPI_Type_free(&stype);
    rd->seconds += MPI_Wtime() - t0;
    return rc != MPI_SUCCESS;
}

/* ------------------------------------------------------------ arguments */

typedef struct {
    const char *data, *out, *checkpoint, *resume;
    long n, dim, data_seed, steps, batch, accumulate, width, depth, seed, threads, save_every;
    int ordered, timing, quiet;
} args;

static const char HELP[] =
    "usage: mpirun -np N cemdiff-mpi train --data DATA [options] -o MODEL\n"
    "       cemdiff-mpi compare A.cem B.cem\n"
    "\n"
    "Trains a CEM network (the library's default recipe) on N ranks that share\n"
    "every step (cem_trainer_set_reduce; docs/SCALING.md).  Rank 0 writes.\n"
    "\n"
    "  --data DATA         segment, circle, helix, sphere, points, torus, knot, or\n"
    "                      a FILE.csv every rank can read\n"
    "  --n N, --dim D, --data-seed S   the built-in dataset (10000, native, 0)\n"
    "  --steps N           train until the step count reaches N (1000)\n"
    "  --batch B           rows per step, the global batch (1024)\n"
    "  --accumulate A      micro-batches per step, shared among the ranks (the\n"
    "                      number of ranks)\n"
    "  --reduce R          ordered (bitwise one process with the same A) or\n"
    "                      allreduce (MPI_Allreduce: round-off) (ordered)\n"
    "  --width H, --depth L, --seed S   the network and the batches' seed\n"
    "  --threads K         threads per rank (1)\n"
    "  -o FILE             the model (required)\n"
    "  --checkpoint FILE   the trainer at the end (and every --save-every steps)\n"
    "  --resume FILE       continue a trainer checkpoint, made by any number of\n"
    "                      ranks\n"
    "  --timing            print the step's split: compute and reduction\n"
    "  --quiet             no progress\n";

static long number(const char *name, const char *v)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || end == v || x < 0) {
        if (g_rank == 0)
            fprintf(stderr, "cemdiff-mpi: %s needs a whole number >= 0 (got '%s')\n", name,
                    v ? v : "");
        MPI_Finalize();
        exit(2);
    }
    return x;
}

static void parse(int argc, char **argv, args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int flag = !strcmp(k, "--timing") || !strcmp(k, "--quiet") || !strcmp(k, "--help");
        if (!strcmp(k, "--help")) {
            if (g_rank == 0)
                fputs(HELP, stdout);
            MPI_Finalize();
            exit(0);
        }
        if (!flag && !v) {
            if (g_rank == 0)
                fprintf(stderr, "cemdiff-mpi: %s needs a value\n", k);
            MPI_Finalize();
            exit(2);
        }
        if (!strcmp(k, "--data")) a->data = v;
        else if (!strcmp(k, "-o")) a->out = v;
        else if (!strcmp(k, "--checkpoint")) a->checkpoint = v;
        else if (!strcmp(k, "--resume")) a->resume = v;
        else if (!strcmp(k, "--n")) a->n = number(k, v);
        else if (!strcmp(k, "--dim")) a->dim = number(k, v);
        else if (!strcmp(k, "--data-seed")) a->data_seed = number(k, v);
        else if (!strcmp(k, "--steps")) a->steps = number(k, v);
        else if (!strcmp(k, "--batch")) a->batch = number(k, v);
        else if (!strcmp(k, "--accumulate")) a->accumulate = number(k, v);
        else if (!strcmp(k, "--width")) a->width = number(k, v);
        else if (!strcmp(k, "--depth")) a->depth = number(k, v);
        else if (!strcmp(k, "--seed")) a->seed = number(k, v);
        else if (!strcmp(k, "--threads")) a->threads = number(k, v);
        else if (!strcmp(k, "--save-every")) a->save_every = number(k, v);
        else if (!strcmp(k, "--reduce")) {
            if (strcmp(v, "ordered") && strcmp(v, "allreduce")) {
                if (g_rank == 0)
                    fprintf(stderr, "cemdiff-mpi: --reduce is ordered or allreduce\n");
                MPI_Finalize();
                exit(2);
            }
            a->ordered = !strcmp(v, "ordered");
        } else if (!strcmp(k, "--timing")) a->timing = 1;
        else if (!strcmp(k, "--quiet")) a->quiet = 1;
        else {
            if (g_rank == 0)
                fprintf(stderr, "cemdiff-mpi: unknown option '%s' (see --help)\n", k);
            MPI_Finalize();
            exit(2);
        }
        i += !flag;
    }
    if (!a->data || !a->out) {
        if (g_rank == 0)
            fprintf(stderr, "cemdiff-mpi: --data and -o are required (see --help)\n");
        MPI_Finalize();
        exit(2);
    }
}

/* ------------------------------------------------------------ data */

static const char *const KINDS[] = {"segment", "circle", "helix", "sphere",
                                    "points",  "torus",  "knot",  NULL};

static float *load_data(const args *a, size_t *n, int *dim)
{
    for (int k = 0; KINDS[k]; k++)
        if (!strcmp(a->data, KINDS[k])) {
            cem_dataset_t *d;
            int native = k == 0 || k == 1 || k == 4 ? 2 : 3;
            *dim = a->dim ? (int)a->dim : native;
            *n = (size_t)a->n;
            CHECK(cem_dataset_create(&d, (cem_dataset_kind)k, *dim, (uint64_t)a->data_seed));
            float *x = malloc(sizeof(float) * *n * (size_t)*dim);
            if (!x)
                die("load_data", "out of memory");
            CHECK(cem_dataset_sample(d, *n, (uint64_t)a->data_seed, x));
            cem_dataset_free(d);
            return x;
        }
    float *x;
    CHECK(cem_csv_read(a->data, &x, n, dim));
    return x;
}

/* ------------------------------------------------------------ train */

static int cmd_train(int argc, char **argv)
{
    args a = {.n = 10000, .steps = 1000, .batch = 1024, .threads = 1, .ordered = 1};
    parse(argc, argv, &a);
    size_t n;
    int dim;
    float *data = load_data(&a, &n, &dim);
    cem_trainer_t *tr;
    if (a.resume) {
        CHECK(cem_trainer_load(&tr, a.resume, data, n, dim));
    } else {
        cem_model_t *m;
        CHECK(cem_model_create_mlp(&m, dim, CEM_TARGET_CEM));
        if (a.width)
            CHECK(cem_model_set(m, CEM_MODEL_WIDTH, (double)a.width));
        if (a.depth)
            CHECK(cem_model_set(m, CEM_MODEL_DEPTH, (double)a.depth));
        CHECK(cem_trainer_create(&tr, m, data, n, dim));
        cem_model_free(m);
        CHECK(cem_trainer_set(tr, CEM_TRAINER_BATCH, (double)a.batch));
        CHECK(cem_trainer_set(tr, CEM_TRAINER_SEED, (double)a.seed));
        CHECK(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE,
                              (double)(a.accumulate ? a.accumulate : g_world)));
    }
    if (a.resume && a.accumulate)
        CHECK(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, (double)a.accumulate));
    CHECK(cem_trainer_set(tr, CEM_TRAINER_THREADS, (double)a.threads));
    double A;
    CHECK(cem_trainer_get(tr, CEM_TRAINER_ACCUMULATE, &A));
    reducer rd = {a.ordered, (int)A, NULL, NULL, NULL, NULL, 0};
    const size_t np = cem_model_param_count(cem_trainer_model(tr));
    if (a.ordered) {
        rd.all_grad = malloc(sizeof(float) * np * (size_t)A);
        rd.counts = malloc(sizeof(int) * (size_t)g_world);
        rd.displs = malloc(sizeof(int) * (size_t)g_world);
        if (!rd.all_grad || !rd.counts || !rd.displs)
            die("the ordered reduction", "out of memory");
        for (int r = 0; r < g_world; r++) {
            rd.displs[r] = first_of(r, (int)A);
            rd.counts[r] = first_of(r + 1, (int)A) - rd.displs[r];
        }
    }
    CHECK(cem_trainer_set_reduce(tr, g_rank, g_world, reduce_mpi, &rd));
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (g_rank == 0 && !a.quiet)
        fprintf(stderr, "cemdiff-mpi: %d rank%s, %zu points in R^%d, %zu parameters, batch %ld "
                "in %g micro-batches, %s reduction\n", g_world, g_world > 1 ? "s" : "", n, dim,
                np, a.batch, A, a.ordered ? "ordered" : "allreduce");
    const long start = cem_trainer_steps(tr);
    double t0 = MPI_Wtime();
    while (cem_trainer_steps(tr) < a.steps) {
        long done = cem_trainer_steps(tr), chunk = a.steps - done;
        if (a.save_every && a.checkpoint) {
            long next = (done / a.save_every + 1) * a.save_every;
            if (next < a.steps)
                chunk = next - done;
        }
        double loss;
        if (cem_trainer_run(tr, chunk, &loss) != CEM_OK)
            die("cem_trainer_run", cem_trainer_errmsg(tr));
        if (g_rank == 0 && !a.quiet)
            fprintf(stderr, "cemdiff-mpi: step %ld of %ld, mean loss %.5g\n",
                    cem_trainer_steps(tr), a.steps, loss);
        if (g_rank == 0 && a.checkpoint && cem_trainer_steps(tr) < a.steps)
            CHECK(cem_trainer_save(tr, a.checkpoint));
    }
    double wall = MPI_Wtime() - t0, comm = rd.seconds, wall_max, comm_max, comm_min;
    MPI_Reduce(&wall, &wall_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&comm, &comm_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&comm, &comm_min, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    const long ran = cem_trainer_steps(tr) - start;
    if (g_rank == 0) {
        CHECK(cem_model_save(cem_trainer_model(tr), a.out));
        if (a.checkpoint)
            CHECK(cem_trainer_save(tr, a.checkpoint));
        if (a.timing && ran > 0)
            /* the fastest rank's reduction time is mostly communication;
             * the slowest's also waits for the others' compute */
            printf("ranks %d steps %ld step_ms %.3f reduce_ms_min %.3f reduce_ms_max %.3f "
                   "compute_ms %.3f\n", g_world, ran, 1e3 * wall_max / ran,
                   1e3 * comm_min / ran, 1e3 * comm_max / ran,
                   1e3 * (wall_max - comm_min) / ran);
    }
    cem_trainer_free(tr);
    free(data);
    free(rd.all_grad);
    free(rd.all_stats);
    free(rd.counts);
    free(rd.displs);
    return 0;
}

/* The largest difference between two models' weights (raw and average). */
static int cmd_compare(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cemdiff-mpi compare A.cem B.cem\n");
        return 2;
    }
    cem_model_t *m[2];
    CHECK(cem_model_load(&m[0], argv[0]));
    CHECK(cem_model_load(&m[1], argv[1]));
    size_t np = cem_model_param_count(m[0]);
    if (cem_model_param_count(m[1]) != np) {
        fprintf(stderr, "cemdiff-mpi: the models have %zu and %zu parameters\n", np,
                cem_model_param_count(m[1]));
        return 1;
    }
    float *p = malloc(sizeof(float) * np), *q = malloc(sizeof(float) * np);
    double dmax = 0, pmax = 0;
    for (int ema = 0; ema <= 1; ema++) {
        CHECK(cem_model_get_params(m[0], ema, p, np));
        CHECK(cem_model_get_params(m[1], ema, q, np));
        for (size_t k = 0; k < np; k++) {
            dmax = fmax(dmax, fabs((double)p[k] - q[k]));
            pmax = fmax(pmax, fabs((double)p[k]));
        }
    }
    printf("max_abs_diff %.9g max_abs_weight %.9g\n", dmax, pmax);
    free(p);
    free(q);
    cem_model_free(m[0]);
    cem_model_free(m[1]);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_world);
    if (!CEM_VERSION_COMPATIBLE(cem_version_number()))
        die("libcemdiff", "the library linked does not serve this header");
    int rc;
    if (argc >= 2 && !strcmp(argv[1], "train"))
        rc = cmd_train(argc - 2, argv + 2);
    else if (argc >= 2 && !strcmp(argv[1], "compare"))
        rc = g_rank == 0 ? cmd_compare(argc - 2, argv + 2) : 0;
    else {
        if (g_rank == 0)
            fputs(HELP, argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        rc = argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    MPI_Finalize();
    return rc;
}
