/*
 * test_hpp.cpp -- include/cemdiff.hpp: errors carry the library's status and
 * message, owners move (the moved-from one is empty, nothing is freed
 * twice), a trainer's model outlives the trainer, and a progress callback's
 * exception stops the run and comes out of Trainer::run with the steps done
 * kept; the sampler's callback, its trajectory, the data axes and the
 * trainer's bins; classes (labelled empirical and mixture models against
 * the class-only and Gaussian models, labelled sampling with guidance, a
 * labelled trainer's checkpoint resuming bitwise) and imputation (known
 * coordinates bitwise, a mask equal to NaN, the Gaussian's conditional
 * mean); the labelled and missing-value CSV readers; data-parallel
 * training (Trainer::set_reduce: ranks as std::threads behind a barrier
 * give bitwise one trainer's weights, a reduce callback's exception comes
 * out of run() with the step not taken).  Built with
 * -fsanitize=address,undefined where that works (tests/check_cpp.sh), so a
 * double free or a use after free fails it too.
 */
#include <cemdiff.hpp>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h> /* getpid: file names of this process only */

static int failures = 0, checks = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        ++checks;                                                                    \
        if (!(cond)) {                                                               \
            ++failures;                                                              \
            std::fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                            \
    } while (0)

/* Runs `expr`, expects cemdiff::error with `want` status; returns it. */
#define CHECK_ERROR(expr, want, err_out)                                             \
    do {                                                                             \
        ++checks;                                                                    \
        bool thrown_ = false;                                                        \
        try {                                                                        \
            expr;                                                                    \
        } catch (const cemdiff::error &e_) {                                         \
            thrown_ = true;                                                          \
            err_out = e_;                                                            \
        }                                                                            \
        if (!thrown_ || err_out.status() != (want)) {                                \
            ++failures;                                                              \
            std::fprintf(stderr, "%s:%d: FAIL: %s: %s\n", __FILE__, __LINE__, #expr,  \
                         thrown_ ? "wrong status" : "no cemdiff::error");            \
        }                                                                            \
    } while (0)

static bool contains(const std::string &s, const char *part) { return s.find(part) != std::string::npos; }

/* A file name in /tmp of this process (concurrent runs do not collide). */
static std::string temp_path(const char *suffix)
{
    return "/tmp/cemdiff-test-hpp-" + std::to_string(static_cast<long>(getpid())) + suffix;
}

static cemdiff::Model small_mlp()
{
    cemdiff::Model m = cemdiff::Model::mlp(2, CEM_TARGET_CEM);
    m.set(CEM_MODEL_WIDTH, 16);
    m.set(CEM_MODEL_DEPTH, 2);
    return m;
}

static cemdiff::Trainer small_trainer(const cemdiff::Model &m, const std::vector<float> &data)
{
    cemdiff::Trainer tr(m, data);
    tr.set(CEM_TRAINER_BATCH, 64);
    tr.set(CEM_TRAINER_THREADS, 1);
    return tr;
}

static void test_errors()
{
    cemdiff::error e(CEM_OK, "");
    cemdiff::Model m = small_mlp();
    CHECK_ERROR(m.set(CEM_MODEL_WIDTH, 0), CEM_ERR_RANGE, e);
    CHECK(std::strcmp(e.status_name(), cem_status_string(CEM_ERR_RANGE)) == 0);
    CHECK(contains(e.message(), "CEM_MODEL_WIDTH"));
    CHECK(e.message() == m.errmsg());
    CHECK(contains(e.what(), e.message().c_str()) && contains(e.what(), e.status_name()));
    CHECK(m.get(CEM_MODEL_WIDTH) == 16); /* unchanged on error */
    auto b = cemdiff::Model::bounds(CEM_MODEL_WIDTH);
    CHECK(b.first == 1 && b.second == 8192);

    /* a constructor that fails throws the library's message */
    CHECK_ERROR(cemdiff::Dataset(CEM_DATA_SPHERE, 2), CEM_ERR_ARG, e);
    CHECK(e.message() == cem_last_error() && !e.message().empty());

    /* a caller buffer that is too small is refused before the call */
    cemdiff::Dataset circle(CEM_DATA_CIRCLE, 2);
    std::vector<float> small(5);
    CHECK_ERROR(circle.sample(3, 0, small.data(), small.size()), CEM_ERR_ARG, e);
    CHECK(contains(e.message(), "6 needed"));
}

static void test_moves()
{
    cemdiff::error e(CEM_OK, "");
    cemdiff::Model a = small_mlp();
    cem_model_t *raw = a.get();
    cemdiff::Model b = std::move(a);
    CHECK(!a && a.get() == nullptr && b.get() == raw);
    CHECK(a.dim() == -1 && b.dim() == 2);
    CHECK_ERROR(a.set(CEM_MODEL_WIDTH, 8), CEM_ERR_ARG, e); /* NULL to the library */
    cemdiff::Model c = cemdiff::Model::mlp(3);
    c = std::move(b); /* c's old model is freed, b is empty */
    CHECK(!b && c.get() == raw && c.dim() == 2);

    cemdiff::Dataset d1(CEM_DATA_CIRCLE, 2);
    cemdiff::Dataset d2 = std::move(d1);
    CHECK(!d1 && d1.dim() == -1 && d2.dim() == 2);
    std::vector<float> data = d2.sample(256, 1);

    /* a moved trainer is one trainer: the model stays busy until the owner
     * it moved to is destroyed, and the moved-from one frees nothing */
    {
        cemdiff::Trainer t1 = small_trainer(c, data);
        cemdiff::Trainer t2 = std::move(t1);
        CHECK(!t1 && t1.steps() == -1 && t2.steps() == 0);
        { cemdiff::Trainer gone = std::move(t1); } /* destroying an empty owner */
        CHECK_ERROR(c.set(CEM_MODEL_WIDTH, 8), CEM_ERR_BUSY, e);
        CHECK(t2.run(2) > 0 && t2.steps() == 2);
    }
    c.set(CEM_MODEL_WIDTH, 8); /* free again once the trainer is gone */
    CHECK(c.get(CEM_MODEL_WIDTH) == 8);

    cemdiff::Sampler s1(c);
    s1.set(CEM_SAMPLER_STEPS, 10);
    cemdiff::Sampler s2 = std::move(s1);
    CHECK(!s1 && s2 && s2.sample(4).size() == 8);
    CHECK_ERROR(s1.get(CEM_SAMPLER_STEPS), CEM_ERR_ARG, e);

    /* share(): two owners of one model, each releasing its own reference */
    cemdiff::Model shared = c.share();
    CHECK(shared.get() == c.get());
    c = cemdiff::Model();
    CHECK(shared.dim() == 2 && shared.get(CEM_MODEL_WIDTH) == 8);
}

static void test_borrowed_model()
{
    cemdiff::Dataset circle(CEM_DATA_CIRCLE, 2);
    std::vector<float> data = circle.sample(256, 1);
    cemdiff::Model borrowed;
    std::vector<float> weights;
    {
        cemdiff::Model m = small_mlp();
        cemdiff::Trainer tr = small_trainer(m, data);
        m = cemdiff::Model(); /* only the trainer holds the model now */
        borrowed = tr.model();
        CHECK(borrowed.get() == cem_trainer_model(tr.get()));
        tr.run(3);
        weights = borrowed.params(1);
        CHECK(weights.size() == borrowed.param_count() && !weights.empty());
    }
    /* the trainer is gone; the model is valid, trained, and free to change */
    CHECK(borrowed.dim() == 2 && borrowed.params(1) == weights);
    std::vector<float> x = {0.5f, 0.5f, -1.0f, 0.2f};
    std::vector<float> f = borrowed.eval_at(CEM_TARGET_CEM, x, 0.1);
    CHECK(f.size() == 4 && std::isfinite(f[0]) && std::isfinite(f[3]));
    cemdiff::Sampler s(borrowed);
    s.set(CEM_SAMPLER_STEPS, 10);
    std::vector<float> all = s.sample(8);
    CHECK(all.size() == 16);
    /* into a caller buffer, in two pieces: the same rows as one run */
    std::vector<float> parts(16, -7.0f);
    s.run(0, 3, parts.data(), 6);
    s.run(3, 5, parts.data() + 6, 10);
    CHECK(parts == all);
    cemdiff::error e(CEM_OK, "");
    CHECK_ERROR(s.run(0, 3, parts.data(), 5), CEM_ERR_ARG, e);
    borrowed.set(CEM_MODEL_USE_EMA, 0);
    CHECK(borrowed.get(CEM_MODEL_USE_EMA) == 0);
}

struct stop_here : std::runtime_error {
    long step;
    explicit stop_here(long s) : std::runtime_error("stopped by the callback"), step(s) {}
};

static void test_callback()
{
    cemdiff::Dataset circle(CEM_DATA_CIRCLE, 2);
    std::vector<float> data = circle.sample(256, 1);
    cemdiff::Model m = small_mlp();
    cemdiff::Trainer tr = small_trainer(m, data);
    tr.run(2);

    /* an exception in the callback stops the run after that step and
     * comes out of run(); the steps before it are kept */
    long calls = 0;
    tr.on_progress([&calls](long step, double loss) {
        ++calls;
        if (!std::isfinite(loss))
            throw std::logic_error("loss not finite");
        if (step == 5)
            throw stop_here(step);
        return false;
    });
    bool caught = false;
    try {
        tr.run(20);
    } catch (const stop_here &e) {
        caught = e.step == 5 && std::string(e.what()) == "stopped by the callback";
    }
    CHECK(caught);
    CHECK(calls == 3 && tr.steps() == 5);

    /* the exception is not thrown again: the next run goes through, and the
     * callback's state survives a move of the trainer */
    cemdiff::Trainer moved = std::move(tr);
    CHECK(std::isfinite(moved.run(2)) && moved.steps() == 7 && calls == 5);

    /* a true return stops the run after that step, without an exception */
    moved.on_progress([](long step, double) { return step == 9; });
    moved.run(20);
    CHECK(moved.steps() == 9);

    /* an empty function removes the callback */
    moved.on_progress(nullptr);
    moved.run(3);
    CHECK(moved.steps() == 12);
}

/* The data axes (PRECOND_PCA), the trainer's bins, and the sampler's
 * progress callback and trajectory, against what the header promises. */
static void test_axes_bins_sampler()
{
    cemdiff::Model m = small_mlp();
    m.set(CEM_MODEL_PARAM, CEM_PARAM_PRECOND_PCA);
    /* cov diag(1, 4): axes e_2 (sd 2) then e_1 (sd 1), sd = sqrt(5/2) */
    m.set_data_cov({1.0, -2.0}, {1.0, 0.0, 0.0, 4.0});
    auto ax = m.data_axes();
    CHECK(ax.first.size() == 4 && ax.second.size() == 2);
    CHECK(ax.first[0] == 0.0 && ax.first[1] == 1.0 && ax.first[2] == 1.0 && ax.first[3] == 0.0);
    CHECK(std::fabs(ax.second[0] - 2.0) < 1e-12 && std::fabs(ax.second[1] - 1.0) < 1e-12);
    CHECK(std::fabs(m.data_stats().second - std::sqrt(2.5)) < 1e-12);
    cemdiff::error err(0, "");
    CHECK_ERROR(m.set_data_cov({}, {1.0, 0.0, 0.0}), CEM_ERR_ARG, err); /* not dim x dim */
    CHECK_ERROR(m.set_data_cov({}, {1.0, 2.0, 0.0, 1.0}), CEM_ERR_ARG, err); /* asymmetric */

    cemdiff::Dataset circle(CEM_DATA_CIRCLE, 2);
    std::vector<float> data = circle.sample(256, 1);
    cemdiff::Trainer tr = small_trainer(m, data);
    tr.run(4);
    auto tb = tr.time_bins(true);
    long draws = 0;
    for (long c : tb.count)
        draws += c;
    CHECK(tb.mean.size() == CEM_TRAINER_BINS && tb.edges.size() == CEM_TRAINER_BINS + 1);
    CHECK(draws == 4 * 64); /* every row of every step, batch 64 */
    for (std::size_t b = 0; b < CEM_TRAINER_BINS; b++)
        CHECK(tb.edges[b] < tb.edges[b + 1]);
    draws = 0;
    for (long c : tr.time_bins().count) /* reset: empty */
        draws += c;
    CHECK(draws == 0);
    auto lb = tr.law_bins();
    double total = 0;
    for (double p : lb.prob)
        total += p;
    CHECK(lb.prob.size() == CEM_TRAINER_LAW_BINS && std::fabs(total - 1.0) < 1e-12);

    cemdiff::Sampler s(m);
    s.set(CEM_SAMPLER_STEPS, 10);
    s.set(CEM_SAMPLER_THREADS, 1);
    s.set(CEM_SAMPLER_TRAJ_ROWS, 3);
    s.set(CEM_SAMPLER_TRAJ_EVERY, 4);
    std::vector<float> whole = s.sample(600);
    auto traj = s.trajectory();
    /* the start, steps 4 and 8, the end: 4 snapshots of 3 rows */
    CHECK(traj.snaps == 4 && traj.rows == 3 && traj.y.size() == 4 * 3 * 2);
    CHECK(traj.times.size() == 4 && traj.times.front() == s.get(CEM_SAMPLER_T_MAX) &&
          traj.times.back() == s.get(CEM_SAMPLER_T_MIN));

    /* progress after each wave (one 256-row block a thread); true stops
     * with a prefix done, bitwise the whole run's */
    std::size_t waves = 0, last = 0;
    s.on_progress([&](std::size_t done, std::size_t total_rows) {
        ++waves;
        last = done;
        return total_rows == 600 && done >= 256;
    });
    std::vector<float> part(600 * 2, 0.0f);
    CHECK_ERROR(s.run(0, 600, part.data(), part.size()), CEM_ERR_STOPPED, err);
    CHECK(waves == 1 && last == 256);
    CHECK(std::memcmp(part.data(), whole.data(), sizeof(float) * 256 * 2) == 0);
    /* an exception from the callback comes out of run() */
    s.on_progress([](std::size_t, std::size_t) -> bool { throw std::runtime_error("from fn"); });
    bool caught = false;
    try {
        s.sample(600);
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()) == "from fn";
    }
    CHECK(caught);
    s.on_progress(nullptr); /* removed: the whole run again */
    CHECK(s.sample(600) == whole);
}

/* The flow on the exact model of N(0, diag(1, 1/4)): log p_t1 in closed
 * form, the round trip, options, the progress callback's exception. */
static void test_flow()
{
    const double t1 = 0.05, a2 = std::exp(-t1), s2 = -std::expm1(-t1);
    cemdiff::Model g = cemdiff::Model::gaussian({0.0f, 0.0f}, {1.0f, 0.0f, 0.0f, 0.25f});
    cemdiff::Flow f(g);
    f.set(CEM_FLOW_T_MIN, t1);
    f.set(CEM_FLOW_T_MAX, 40.0);
    f.set(CEM_FLOW_RTOL, 1e-9);
    f.set(CEM_FLOW_ATOL, 1e-9);
    f.set(CEM_FLOW_THREADS, 1);
    CHECK(f.get(CEM_FLOW_T_MIN) == t1 && cemdiff::Flow::bounds(CEM_FLOW_PROBES).second == 1024);
    std::vector<float> x = {0.5f, -0.25f, -1.0f, 0.125f};
    std::vector<std::size_t> evals;
    std::vector<double> lp = f.logprob(x, &evals);
    const double v[2] = {a2 + s2, a2 * 0.25 + s2};
    for (int i = 0; i < 2; i++) {
        double want = -std::log(2 * M_PI) - 0.5 * std::log(v[0] * v[1]) -
                      0.5 * (x[2 * i] * x[2 * i] / v[0] + x[2 * i + 1] * x[2 * i + 1] / v[1]);
        CHECK(std::fabs(lp[i] - want) < 1e-6 && evals[i] > 7);
    }
    std::vector<float> back = f.decode(f.encode(x));
    for (int k = 0; k < 4; k++)
        CHECK(std::fabs(back[k] - x[k]) < 1e-5);
    cemdiff::error err(0, "");
    CHECK_ERROR(f.set(CEM_FLOW_PROBES, 0), CEM_ERR_RANGE, err);
    CHECK(contains(err.message(), "CEM_FLOW_PROBES") && contains(f.errmsg(), "CEM_FLOW_PROBES"));
    CHECK_ERROR(f.logprob({1.0f}), CEM_ERR_ARG, err); /* not n x dim */
    f.on_progress([](std::size_t, std::size_t) -> bool { throw std::runtime_error("from fn"); });
    bool caught = false;
    try {
        f.logprob(x);
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()) == "from fn";
    }
    CHECK(caught);
    f.on_progress(nullptr);
    CHECK(f.logprob(x) == lp);
    cemdiff::Flow moved = std::move(f);
    CHECK(!f && moved && moved.dim() == 2);
}

/* n x dim normal-ish floats from a small LCG (deterministic, no <random>
 * distribution differences between standard libraries). */
static std::vector<float> noise(std::size_t count, unsigned seed)
{
    std::vector<float> v(count);
    unsigned long s = seed * 2654435761ul + 1;
    for (auto &x : v) {
        double u = 0;
        for (int k = 0; k < 12; k++) { /* Irwin-Hall: sum of 12 uniforms - 6 */
            s = (s * 6364136223846793005ul + 1442695040888963407ul) & 0xfffffffffffful;
            u += static_cast<double>(s >> 16) / 4294967296.0;
        }
        x = static_cast<float>(u - 6.0);
    }
    return v;
}

static double column_mean(const std::vector<float> &x, int dim, int col)
{
    double m = 0;
    std::size_t n = x.size() / static_cast<std::size_t>(dim);
    for (std::size_t i = 0; i < n; i++)
        m += x[i * static_cast<std::size_t>(dim) + static_cast<std::size_t>(col)];
    return m / static_cast<double>(n);
}

static void test_labelled_models()
{
    const int dim = 2;
    std::vector<float> pts = noise(60 * dim, 1);
    std::vector<int> lab(60);
    for (int i = 0; i < 60; i++)
        lab[static_cast<std::size_t>(i)] = i % 3;
    cemdiff::Model m = cemdiff::Model::empirical(pts, lab, dim);
    CHECK(m.kind() == CEM_KIND_EMPIRICAL && m.labels() == 3);
    std::vector<float> x = noise(10 * dim, 2);
    std::vector<double> t(10);
    for (std::size_t i = 0; i < t.size(); i++)
        t[i] = 0.01 * static_cast<double>(i + 1);
    for (int k = 0; k < 3; k++) { /* class k: the empirical model of its points */
        std::vector<float> mine;
        for (std::size_t i = 0; i < lab.size(); i++)
            if (lab[i] == k)
                mine.insert(mine.end(), pts.begin() + static_cast<long>(i) * dim,
                            pts.begin() + static_cast<long>(i + 1) * dim);
        std::vector<float> want = cemdiff::Model::empirical(mine, dim).eval(CEM_TARGET_CEM, x, t);
        std::vector<float> got = m.eval(CEM_TARGET_CEM, x, t, k);
        bool close = true;
        for (std::size_t j = 0; j < got.size(); j++)
            close = close && std::fabs(got[j] - want[j]) <= 1e-6f * (1 + std::fabs(want[j]));
        CHECK(close);
        CHECK(got == m.eval(CEM_TARGET_CEM, x, t, std::vector<int>(10, k)));
    }
    /* CEM_LABEL_NONE: the unconditional model of every point */
    CHECK(m.eval(CEM_TARGET_CEM, x, t, CEM_LABEL_NONE) ==
          cemdiff::Model::empirical(pts, dim).eval(CEM_TARGET_CEM, x, t));
    cemdiff::error e(CEM_OK, "");
    CHECK_ERROR(m.eval(CEM_TARGET_CEM, x, t, 3), CEM_ERR_ARG, e);
    CHECK(contains(e.message(), "cem_model_eval_labelled"));
    CHECK_ERROR(m.eval(CEM_TARGET_CEM, x, t, std::vector<int>(9, 0)), CEM_ERR_ARG, e);
    CHECK_ERROR(cemdiff::Model::empirical(pts, std::vector<int>(59, 0), dim), CEM_ERR_ARG, e);

    /* a mixture's class k is component k's Gaussian, exactly */
    std::vector<float> means = {-1.0f, 0.5f, 2.0f, -0.5f};
    std::vector<float> covs = {1.0f, 0.3f, 0.3f, 0.5f, 0.4f, -0.1f, -0.1f, 0.2f};
    cemdiff::Model mx = cemdiff::Model::mixture(means, covs, dim, {0.25, 0.75});
    CHECK(mx.kind() == CEM_KIND_MIXTURE && mx.labels() == 2);
    for (int k = 0; k < 2; k++) {
        std::size_t o = static_cast<std::size_t>(k);
        cemdiff::Model g = cemdiff::Model::gaussian({means[2 * o], means[2 * o + 1]},
                                                    {covs.begin() + static_cast<long>(4 * o),
                                                     covs.begin() + static_cast<long>(4 * o + 4)});
        CHECK(mx.eval(CEM_TARGET_SCORE, x, t, k) == g.eval(CEM_TARGET_SCORE, x, t));
    }
    CHECK_ERROR(cemdiff::Model::mixture(means, covs, dim, {1.0}), CEM_ERR_ARG, e);
    CHECK_ERROR(cemdiff::Model::mixture(means, covs, dim, {1.0, -1.0}), CEM_ERR_ARG, e);
    CHECK(contains(e.message(), "cem_model_create_mixture"));
}

static void test_labelled_sampling()
{
    /* two unit Gaussians at x = -0.5 and 0.5: class 1's samples centre on
     * 0.5 without guidance and move away from class 0 with it */
    const int dim = 2;
    std::vector<float> means = {-0.5f, 0.0f, 0.5f, 0.0f};
    std::vector<float> covs = {1, 0, 0, 1, 1, 0, 0, 1};
    cemdiff::Model mx = cemdiff::Model::mixture(means, covs, dim);
    cemdiff::Sampler s(mx);
    s.set(CEM_SAMPLER_THREADS, 1);
    s.set(CEM_SAMPLER_STEPS, 60);
    s.set(CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL);
    const std::size_t n = 2000;
    std::vector<float> free_ = s.sample(std::vector<int>(n, 1));
    s.set(CEM_SAMPLER_LABEL, 1);
    CHECK(s.sample(n) == free_); /* the option: every row's label */
    s.set(CEM_SAMPLER_LABEL, CEM_LABEL_NONE);
    {   /* guidance 0, class 1: bitwise the component's own sampler */
        cemdiff::Model g = cemdiff::Model::gaussian({0.5f, 0.0f}, {1, 0, 0, 1});
        cemdiff::Sampler sg(g);
        sg.set(CEM_SAMPLER_THREADS, 1);
        sg.set(CEM_SAMPLER_STEPS, 60);
        sg.set(CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL);
        CHECK(sg.sample(n) == free_);
    }
    s.set(CEM_SAMPLER_GUIDANCE, 3.0);
    CHECK(s.get(CEM_SAMPLER_GUIDANCE) == 3.0);
    std::vector<float> guided = s.sample(std::vector<int>(n, 1));
    const double se = std::sqrt(1.0 / static_cast<double>(n));
    CHECK(std::fabs(column_mean(free_, dim, 0) - 0.5) < 4 * se);
    CHECK(column_mean(guided, dim, 0) > 0.5 + 10 * se);
    /* rows by label: a row depends on its index and label only */
    std::vector<int> rows(n);
    for (std::size_t i = 0; i < n; i++)
        rows[i] = static_cast<int>(i % 3) - 1;
    std::vector<float> mixed = s.sample(rows), plain = s.sample(n);
    bool same = true;
    for (std::size_t i = 0; i < n; i++)
        if (rows[i] == 1 || rows[i] == -1) {
            const std::vector<float> &ref = rows[i] == 1 ? guided : plain;
            same = same && mixed[2 * i] == ref[2 * i] && mixed[2 * i + 1] == ref[2 * i + 1];
        }
    CHECK(same);
    std::vector<float> piece(10 * dim);
    s.run_labelled(100, 10, rows.data() + 100, piece.data(), piece.size());
    CHECK(std::equal(piece.begin(), piece.end(), mixed.begin() + 200));
    cemdiff::error e(CEM_OK, "");
    CHECK_ERROR(s.sample(std::vector<int>(3, 2)), CEM_ERR_ARG, e);
    CHECK(contains(e.message(), "cem_sampler_run_labelled"));
    CHECK_ERROR(s.run_labelled(0, 10, rows.data(), piece.data(), 5), CEM_ERR_ARG, e);
}

static void test_impute()
{
    /* N(mu, S) in R^2 with x1 = 1 known: x2 ~ N(mu_2 + S_21/S_11 (1 - mu_1), .) */
    const float mu[2] = {0.5f, -0.3f}, S[4] = {1.0f, 0.8f, 0.8f, 1.2f};
    cemdiff::Model g = cemdiff::Model::gaussian({mu[0], mu[1]}, {S[0], S[1], S[2], S[3]});
    cemdiff::Sampler s(g);
    s.set(CEM_SAMPLER_THREADS, 1);
    s.set(CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL);
    s.set(CEM_SAMPLER_JUMPS, 20);
    CHECK(s.get(CEM_SAMPLER_IMPUTE) == CEM_IMPUTE_REPAINT);
    const std::size_t n = 2000;
    std::vector<float> x(2 * n);
    std::vector<unsigned char> known(2 * n);
    for (std::size_t i = 0; i < n; i++) {
        x[2 * i] = 1.0f;
        x[2 * i + 1] = std::nanf("");
        known[2 * i] = 1;
        known[2 * i + 1] = 0;
    }
    std::vector<float> out = s.impute(x);
    bool kept = true, finite = true;
    for (std::size_t i = 0; i < n; i++) {
        kept = kept && std::memcmp(&out[2 * i], &x[2 * i], sizeof(float)) == 0;
        finite = finite && std::isfinite(out[2 * i + 1]);
    }
    CHECK(kept && finite);
    const double want = mu[1] + static_cast<double>(S[2]) / S[0] * (1.0 - mu[0]);
    const double var = S[3] - static_cast<double>(S[2]) * S[2] / S[0];
    const double mean = column_mean(out, 2, 1), se = std::sqrt(var / static_cast<double>(n));
    CHECK(std::fabs(mean - want) < 3.5 * se);
    if (std::getenv("CEMDIFF_TEST_VERBOSE") || std::fabs(mean - want) >= 3.5 * se)
        std::fprintf(stderr, "impute: mean %.4f, exact %.4f (se %.4f)\n", mean, want, se);
    /* a mask: the missing entries are not read, the answer the same */
    for (std::size_t i = 0; i < n; i++)
        x[2 * i + 1] = 123.0f;
    CHECK(s.impute(x, known) == out);
    /* rows: a piece is the same rows of the whole */
    std::vector<float> piece(20);
    s.impute(50, 10, x.data() + 100, known.data() + 100, nullptr, piece.data(), piece.size());
    CHECK(std::equal(piece.begin(), piece.end(), out.begin() + 100));
    cemdiff::error e(CEM_OK, "");
    x[2] = std::nanf(""); /* a known coordinate that is NaN */
    CHECK_ERROR(s.impute(x, known), CEM_ERR_NONFINITE, e);
    CHECK(contains(e.message(), "cem_sampler_impute"));
    CHECK_ERROR(s.impute(x, std::vector<unsigned char>(3, 1)), CEM_ERR_ARG, e);
    s.set(CEM_SAMPLER_INTEGRATOR, CEM_INTEG_DPMPP_2M);
    CHECK_ERROR(s.impute(out), CEM_ERR_UNSUPPORTED, e); /* jumps with a multistep method */

    /* labelled: each class completes from its own component */
    std::vector<float> means = {-2.0f, -2.0f, 2.0f, 2.0f};
    std::vector<float> covs = {0.05f, 0, 0, 0.05f, 0.05f, 0, 0, 0.05f};
    cemdiff::Model mx = cemdiff::Model::mixture(means, covs, 2);
    cemdiff::Sampler sl(mx);
    sl.set(CEM_SAMPLER_THREADS, 1);
    sl.set(CEM_SAMPLER_STEPS, 50);
    sl.set(CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL);
    sl.set(CEM_SAMPLER_JUMPS, 5);
    std::vector<float> part(2 * 200);
    for (std::size_t i = 0; i < 200; i++) {
        part[2 * i] = std::nanf("");
        part[2 * i + 1] = 0.0f;
    }
    for (int k = 0; k < 2; k++) {
        std::vector<float> done = sl.impute(part, {}, std::vector<int>(200, k));
        CHECK(std::fabs(column_mean(done, 2, 0) - means[2 * static_cast<std::size_t>(k)]) < 0.1);
    }
    sl.set(CEM_SAMPLER_IMPUTE, CEM_IMPUTE_RECONSTRUCT);
    CHECK_ERROR(sl.impute(part, {}, std::vector<int>(200, 0)), CEM_ERR_UNSUPPORTED, e);
}

static void test_labelled_trainer()
{
    cemdiff::Dataset circle(CEM_DATA_CIRCLE, 2);
    std::vector<float> data = circle.sample(128, 1);
    std::vector<int> lab(128);
    for (std::size_t i = 0; i < lab.size(); i++)
        lab[i] = i % 5 == 0 ? CEM_LABEL_NONE : data[2 * i] > 0;
    cemdiff::Model m = small_mlp();
    m.set(CEM_MODEL_LABELS, 2);
    m.set(CEM_MODEL_LABEL_EMBED, 4);
    cemdiff::error e(CEM_OK, "");
    std::vector<float> before;
    {
        cemdiff::Trainer tr(m, data, lab);
        tr.set(CEM_TRAINER_BATCH, 32);
        tr.set(CEM_TRAINER_THREADS, 1);
        tr.set(CEM_TRAINER_LABEL_DROPOUT, 0.2);
        tr.run(10);
        std::vector<unsigned char> ckpt = tr.save_buffer();
        tr.run(10);
        before = m.params(1);
        cemdiff::Trainer again = cemdiff::Trainer::load_buffer(ckpt, data, lab, 2);
        CHECK(again.steps() == 10 && again.get(CEM_TRAINER_LABEL_DROPOUT) == 0.2);
        again.run(10);
        CHECK(again.model().params(1) == before); /* resumed bitwise */
        CHECK_ERROR(cemdiff::Trainer::load_buffer(ckpt, data, 2), CEM_ERR_ARG, e);
        /* batches: unlabelled rows are CEM_LABEL_NONE rows */
        std::vector<float> x0(data.begin(), data.begin() + 32), z = noise(32, 3);
        std::vector<double> t(16);
        for (std::size_t i = 0; i < t.size(); i++)
            t[i] = 0.05 * static_cast<double>(i + 1);
        std::vector<int> none(16, CEM_LABEL_NONE), some(lab.begin(), lab.begin() + 16);
        CHECK(tr.loss_batch(x0, t, z) == tr.loss_batch(x0, t, z, none));
        std::vector<float> grad;
        double l = tr.loss_batch(x0, t, z, some, &grad);
        CHECK(grad.size() == m.param_count() && std::isfinite(l));
        CHECK(tr.step_batch(x0, t, z, some) == l);
        CHECK_ERROR(tr.step_batch(x0, t, z, std::vector<int>(16, 2)), CEM_ERR_ARG, e);
        CHECK_ERROR(tr.step_batch(x0, t, z, std::vector<int>(15, 0)), CEM_ERR_ARG, e);
    }
    cemdiff::Model plain = small_mlp();
    CHECK_ERROR(cemdiff::Trainer(plain, data, lab), CEM_ERR_ARG, e);
    CHECK(contains(e.message(), "cem_trainer_create_labelled"));
    /* the file forms */
    const std::string path = temp_path("-labelled.cem");
    cemdiff::Model m2 = small_mlp();
    m2.set(CEM_MODEL_LABELS, 2);
    cemdiff::Trainer tr2(m2, data, lab);
    tr2.set(CEM_TRAINER_THREADS, 1);
    tr2.set(CEM_TRAINER_BATCH, 16);
    tr2.run(3);
    tr2.save(path);
    CHECK(cemdiff::Trainer::load(path, data, lab, 2).steps() == 3);
    CHECK_ERROR(cemdiff::Trainer::load(path, data, 2), CEM_ERR_ARG, e);
    std::remove(path.c_str());
}

static void test_csv_labels_missing()
{
    const std::string path = temp_path(".csv");
    std::FILE *f = std::fopen(path.c_str(), "w");
    CHECK(f != nullptr);
    if (!f)
        return;
    std::fputs("0.5,2,1.5\n-1,0,0.25\n7,-1,8\n", f);
    std::fclose(f);
    cemdiff::LabelledTable lt = cemdiff::csv_read_labelled(path, 1);
    CHECK(lt.n == 3 && lt.dim == 2);
    CHECK((lt.labels == std::vector<int>{2, 0, -1}));
    CHECK((lt.data == std::vector<float>{0.5f, 1.5f, -1.0f, 0.25f, 7.0f, 8.0f}));
    cemdiff::error e(CEM_OK, "");
    CHECK_ERROR(cemdiff::csv_read_labelled(path, 0), CEM_ERR_PARSE, e); /* 0.5 is no class */
    f = std::fopen(path.c_str(), "w");
    std::fputs("1,,2\n,0.5,\n", f);
    std::fclose(f);
    cemdiff::Table mt = cemdiff::csv_read_missing(path);
    CHECK(mt.n == 2 && mt.dim == 3);
    CHECK(mt.data[0] == 1.0f && std::isnan(mt.data[1]) && mt.data[2] == 2.0f);
    CHECK(std::isnan(mt.data[3]) && mt.data[4] == 0.5f && std::isnan(mt.data[5]));
    CHECK_ERROR(cemdiff::csv_read(path), CEM_ERR_PARSE, e);
    std::remove(path.c_str());
}

/* ------------------------------------------------ data-parallel training */

enum { PA = 6 }; /* micro-batches a step (ACCUMULATE) */

/* A reusable barrier of `n` threads (std::barrier is C++20). */
class barrier_t {
public:
    explicit barrier_t(int n) : n_(n) {}
    void wait()
    {
        std::unique_lock<std::mutex> lk(mu_);
        const long gen = gen_;
        if (++waiting_ == n_) {
            waiting_ = 0;
            ++gen_;
            cv_.notify_all();
        } else {
            cv_.wait(lk, [&] { return gen_ != gen; });
        }
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int n_, waiting_ = 0;
    long gen_ = 0;
};

/* The C suite's network (tests/test_parallel.c): width 32, depth 2,
 * BATCH 60, THREADS 1, ACCUMULATE PA. */
static cemdiff::Trainer parallel_trainer(const std::vector<float> &data)
{
    cemdiff::Model m = cemdiff::Model::mlp(2, CEM_TARGET_CEM);
    m.set(CEM_MODEL_WIDTH, 32);
    m.set(CEM_MODEL_DEPTH, 2);
    cemdiff::Trainer tr(m, data);
    tr.set(CEM_TRAINER_BATCH, 60);
    tr.set(CEM_TRAINER_THREADS, 1);
    tr.set(CEM_TRAINER_ACCUMULATE, PA);
    return tr;
}

struct rank_failed : std::runtime_error {
    int rank;
    explicit rank_failed(int r) : std::runtime_error("the rank's reduce failed"), rank(r) {}
};

/* The ranks' shared memory: one block per micro-batch, filled by its rank,
 * then summed by every rank in micro-batch order. */
struct meeting {
    barrier_t bar;
    std::size_t n, m;
    std::vector<float> grad;   /* PA x n */
    std::vector<double> stats; /* PA x m */
    int fail_rank;             /* throws after the exchange (-1: none) */
    std::atomic<int> bad{0};   /* a call with unexpected sizes */
    meeting(int world, std::size_t n_, std::size_t m_, int fail)
        : bar(world), n(n_), m(m_), grad(PA * n_), stats(PA * m_), fail_rank(fail) {}
};

/* `steps` steps of every trainer, one std::thread a rank; each rank's
 * exception (or none) in errs. */
static void run_world(std::vector<cemdiff::Trainer> &trs, long steps, std::size_t m,
                      int fail_rank, std::vector<std::exception_ptr> &errs)
{
    const int world = static_cast<int>(trs.size());
    meeting mt(world, trs[0].model().param_count(), m, fail_rank);
    for (int r = 0; r < world; r++)
        trs[r].set_reduce(r, world, [&mt, r](float *grad, std::size_t n, double *stats,
                                             std::size_t mm, int first, int parts) {
            const bool ok = n == mt.n && mm == mt.m && first >= 0 && parts >= 0 &&
                            first + parts <= PA;
            if (ok) {
                std::memcpy(mt.grad.data() + first * n, grad, sizeof(float) * n * parts);
                std::memcpy(mt.stats.data() + first * mm, stats, sizeof(double) * mm * parts);
            } else {
                mt.bad = 1;
            }
            mt.bar.wait();
            if (ok)
                for (int q = 0; q < PA; q++) {
                    const float *g = mt.grad.data() + q * n;
                    const double *s = mt.stats.data() + q * mm;
                    for (std::size_t i = 0; i < n; i++)
                        grad[i] = q ? grad[i] + g[i] : g[i];
                    for (std::size_t i = 0; i < mm; i++)
                        stats[i] = q ? stats[i] + s[i] : s[i];
                }
            mt.bar.wait(); /* every rank has read the blocks */
            if (!ok)
                throw std::logic_error("reduce called with unexpected sizes");
            if (r == mt.fail_rank)
                throw rank_failed(r);
        });
    errs.assign(world, nullptr);
    std::vector<std::thread> th;
    for (int r = 0; r < world; r++)
        th.emplace_back([&trs, &errs, r, steps] {
            try {
                trs[r].run(steps);
            } catch (...) {
                errs[r] = std::current_exception();
            }
        });
    for (auto &t : th)
        t.join();
    CHECK(mt.bad == 0);
}

static void test_parallel()
{
    cemdiff::Dataset circle(CEM_DATA_CIRCLE, 2);
    const std::vector<float> data = circle.sample(256, 1);

    /* the stats' length, learnt from a one-rank step whose callback
     * throws: the exception comes out of run(), the step is not taken */
    std::size_t m = 0;
    {
        cemdiff::Trainer probe = parallel_trainer(data);
        probe.set_reduce(0, 1, [&m](float *, std::size_t, double *, std::size_t mm, int first,
                                    int parts) {
            m = mm;
            if (first == 0 && parts == PA)
                throw stop_here(7);
        });
        bool caught = false;
        try {
            probe.run(3);
        } catch (const stop_here &e) {
            caught = e.step == 7;
        }
        CHECK(caught);
        CHECK(probe.steps() == 0);
        CHECK(m >= 1 && m <= 1024);
        CHECK(contains(probe.errmsg(), "reduce callback of rank 0 of 1"));
        /* the exception is not thrown again; off again, a single trainer
         * (and the state survives a move) */
        cemdiff::Trainer moved = std::move(probe);
        moved.set_reduce(0, 1, nullptr);
        moved.run(2);
        CHECK(moved.steps() == 2);
        cemdiff::error e(CEM_OK, "");
        auto fn = [](float *, std::size_t, double *, std::size_t, int, int) {};
        CHECK_ERROR(moved.set_reduce(0, 0, fn), CEM_ERR_ARG, e);
        CHECK_ERROR(moved.set_reduce(2, 2, fn), CEM_ERR_ARG, e);
        CHECK_ERROR(moved.set_reduce(-1, 2, fn), CEM_ERR_ARG, e);
        CHECK_ERROR(moved.set_reduce(0, 2, nullptr), CEM_ERR_ARG, e);
        CHECK(contains(e.message(), "world 2"));
        CHECK_ERROR(cemdiff::Trainer().set_reduce(0, 1, fn), CEM_ERR_ARG, e);
        moved.run(1); /* the failed calls changed nothing: still single */
        CHECK(moved.steps() == 3);
    }

    /* two and three ranks with the ordered sum: bitwise one trainer */
    const long steps = 4;
    cemdiff::Trainer one = parallel_trainer(data);
    one.run(steps);
    const std::vector<float> want = one.model().params(0), want_ema = one.model().params(1);
    for (int world = 1; world <= 3; world++) {
        std::vector<cemdiff::Trainer> trs;
        for (int r = 0; r < world; r++)
            trs.push_back(parallel_trainer(data));
        std::vector<std::exception_ptr> errs;
        run_world(trs, steps, m, -1, errs);
        for (int r = 0; r < world; r++) {
            CHECK(errs[r] == nullptr);
            CHECK(trs[r].steps() == steps);
            CHECK(trs[r].model().params(0) == want);
            CHECK(trs[r].model().params(1) == want_ema);
        }
    }

    /* rank 1 of 2 throws after the exchange: its step alone fails, and
     * its exception comes out of its run() */
    std::vector<cemdiff::Trainer> trs;
    trs.push_back(parallel_trainer(data));
    trs.push_back(parallel_trainer(data));
    const std::vector<float> before = trs[1].model().params(0);
    std::vector<std::exception_ptr> errs;
    run_world(trs, 1, m, 1, errs);
    CHECK(errs[0] == nullptr && trs[0].steps() == 1);
    bool caught = false;
    try {
        if (errs[1])
            std::rethrow_exception(errs[1]);
    } catch (const rank_failed &e) {
        caught = e.rank == 1;
    }
    CHECK(caught);
    CHECK(trs[1].steps() == 0);
    CHECK(trs[1].model().params(0) == before);
}

int main()
{
    try {
        test_errors();
        test_moves();
        test_borrowed_model();
        test_callback();
        test_axes_bins_sampler();
        test_flow();
        test_labelled_models();
        test_labelled_sampling();
        test_impute();
        test_labelled_trainer();
        test_csv_labels_missing();
        test_parallel();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "test_hpp: FAIL: unexpected exception: %s\n", e.what());
        return 1;
    }
    std::printf("test_hpp: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
