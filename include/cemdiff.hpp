/*
 * cemdiff.hpp -- C++17 owners over the C API of libcemdiff.
 *
 * Header only; include it instead of (or after) cemdiff.h and link the
 * library as a C host does (pkg-config cemdiff).  The C header stays the
 * manual: every function here says which C call it makes, and that call's
 * contract (arguments, layouts, errors, thread safety) is the one that holds.
 *
 *   - Model, Trainer, Sampler, Flow, Dataset own one handle each: move-only,
 *     released by the matching cem_*_free on destruction.  A moved-from
 *     owner is empty (explicit operator bool is false); calling through it
 *     passes NULL to the library, which answers CEM_ERR_ARG.
 *   - A failing call throws cemdiff::error with the status, its name
 *     (cem_status_string) and the library's message (cem_last_error, per
 *     thread, set by every failing call).
 *   - Arrays are the library's row-major n x dim float arrays: std::vector
 *     overloads return or take them whole, pointer-and-size overloads
 *     write into the caller's memory (sizes are checked before the call).
 *   - Models are reference counted (cem_model_retain): Model::share() and
 *     Trainer::model() return owners of their own reference, so the model
 *     stays valid whichever owner goes first.
 *   - Classes: labels are std::vector<int> (or const int *) of one class a
 *     row, in 0 .. K-1 or CEM_LABEL_NONE; the labelled overloads call the
 *     *_labelled functions.  Imputation masks are unsigned char (1: known).
 */
#ifndef CEMDIFF_HPP
#define CEMDIFF_HPP

#include "cemdiff.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cemdiff {

/* ------------------------------------------------------------ errors */

/* A failed call: status() is the CEM_ERR_* code, status_name() its
 * cem_status_string, message() the library's explanation. */
class error : public std::runtime_error {
public:
    error(int status, const std::string &message)
        : std::runtime_error(message + " (" + cem_status_string(status) + ", status " +
                             std::to_string(status) + ")"),
          status_(status), message_(message) {}
    int status() const noexcept { return status_; }
    const char *status_name() const noexcept { return cem_status_string(status_); }
    const std::string &message() const noexcept { return message_; }

private:
    int status_;
    std::string message_;
};

/* Throws error(status, cem_last_error()) unless status is CEM_OK. */
inline void check(int status)
{
    if (status != CEM_OK) {
        const char *msg = cem_last_error();
        throw error(status, msg ? msg : "");
    }
}

namespace detail {
/* A checked size: throws CEM_ERR_ARG (as the library would) when a caller
 * buffer is smaller than the call needs. */
inline void need(std::size_t have, std::size_t want, const char *what)
{
    if (have < want)
        throw error(CEM_ERR_ARG, std::string(what) + ": buffer of " + std::to_string(have) +
                                     " elements, " + std::to_string(want) + " needed");
}
inline std::size_t rows(std::size_t size, int dim, const char *what)
{
    if (dim < 1 || size % static_cast<std::size_t>(dim) != 0)
        throw error(CEM_ERR_ARG, std::string(what) + ": " + std::to_string(size) +
                                     " floats are not rows of dim " + std::to_string(dim));
    return size / static_cast<std::size_t>(dim);
}
inline std::size_t udim(int dim) { return dim > 0 ? static_cast<std::size_t>(dim) : 0; }

struct model_free { void operator()(cem_model_t *p) const noexcept { cem_model_free(p); } };
struct trainer_free { void operator()(cem_trainer_t *p) const noexcept { cem_trainer_free(p); } };
struct sampler_free { void operator()(cem_sampler_t *p) const noexcept { cem_sampler_free(p); } };
struct dataset_free { void operator()(cem_dataset_t *p) const noexcept { cem_dataset_free(p); } };
struct flow_free { void operator()(cem_flow_t *p) const noexcept { cem_flow_free(p); } };
struct buffer_free { void operator()(void *p) const noexcept { cem_free(p); } };

/* The progress callback's state; the Trainer owns it on the heap so that
 * the pointer given to the library survives moves of the Trainer. */
struct progress_state {
    std::function<bool(long, double)> fn;
    std::exception_ptr caught;
};
/* The same for the Sampler's callback (rows done, rows requested). */
struct sampler_progress_state {
    std::function<bool(std::size_t, std::size_t)> fn;
    std::exception_ptr caught;
};
/* The same for the Trainer's reduce callback (cem_reduce_fn). */
struct reduce_state {
    std::function<void(float *, std::size_t, double *, std::size_t, int, int)> fn;
    std::exception_ptr caught;
};
} // namespace detail

/* The C trampoline: calls the std::function, never lets an exception
 * unwind into the library; an exception is kept for Trainer::run and stops
 * the run (non-zero return, as cem_progress_fn defines). */
extern "C" inline int cemdiff_hpp_progress_v0(long step, double loss, void *user) noexcept
{
    auto *st = static_cast<detail::progress_state *>(user);
    try {
        return st->fn && st->fn(step, loss) ? 1 : 0;
    } catch (...) {
        st->caught = std::current_exception();
        return 1;
    }
}

/* The sampler's trampoline, with the same contract. */
extern "C" inline int cemdiff_hpp_sampler_progress_v0(std::size_t done, std::size_t total,
                                                      void *user) noexcept
{
    auto *st = static_cast<detail::sampler_progress_state *>(user);
    try {
        return st->fn && st->fn(done, total) ? 1 : 0;
    } catch (...) {
        st->caught = std::current_exception();
        return 1;
    }
}

/* The reduce trampoline (cem_reduce_fn), with the same contract: an
 * exception is kept for Trainer::run and fails the step (non-zero return,
 * CEM_ERR_REDUCE). */
extern "C" inline int cemdiff_hpp_reduce_v0(float *grad, std::size_t n, double *stats,
                                            std::size_t m, int first, int parts,
                                            void *user) noexcept
{
    auto *st = static_cast<detail::reduce_state *>(user);
    try {
        st->fn(grad, n, stats, m, first, parts);
        return 0;
    } catch (...) {
        st->caught = std::current_exception();
        return 1;
    }
}

/* ------------------------------------------------------------ free functions */

/* cem_version_number / cem_version_string of the linked library. */
inline unsigned version_number() { return cem_version_number(); }
inline std::string version_string() { return cem_version_string(); }

/* cem_ou_coefficients: {alpha_t, sigma_t^2}. */
inline std::pair<double, double> ou_coefficients(double t)
{
    double a = 0, s2 = 0;
    check(cem_ou_coefficients(t, &a, &s2));
    return {a, s2};
}

/* cem_convert: values of target `from` at x (n x dim) and t (n) into `to`. */
inline std::vector<float> convert(cem_target from, cem_target to, int dim,
                                  const std::vector<float> &x, const std::vector<double> &t,
                                  const std::vector<float> &in)
{
    std::size_t n = detail::rows(x.size(), dim, "cemdiff::convert");
    detail::need(t.size(), n, "cemdiff::convert (t)");
    detail::need(in.size(), x.size(), "cemdiff::convert (in)");
    std::vector<float> out(x.size());
    check(cem_convert(from, to, n, dim, x.data(), t.data(), in.data(), out.data()));
    return out;
}

/* cem_grid_name / cem_integrator_name: the name, or "" for a value that
 * is not a member. */
inline std::string grid_name(cem_grid kind)
{
    const char *s = cem_grid_name(kind);
    return s ? s : "";
}
inline std::string integrator_name(cem_integrator id)
{
    const char *s = cem_integrator_name(id);
    return s ? s : "";
}

/* cem_time_grid: N increasing times on [t1, T]. */
inline std::vector<double> time_grid(cem_grid kind, int N, double t1, double T)
{
    std::vector<double> out(N > 0 ? static_cast<std::size_t>(N) : 0);
    check(cem_time_grid(kind, N, t1, T, out.data()));
    return out;
}

/* cem_time_law_sample: n times drawn from `law` (N: the GRID law's size). */
inline std::vector<double> time_law_sample(cem_time_law law, int N, double t1, double T,
                                           std::uint64_t seed, std::size_t n)
{
    std::vector<double> out(n);
    check(cem_time_law_sample(law, N, t1, T, seed, n, out.data()));
    return out;
}

/* ------------------------------------------------------------ Model */

/* Owner of one reference to a cem_model_t (any kind). */
class Model {
public:
    Model() = default;
    /* Takes over a reference the caller owns (e.g. from cem_model_create_*). */
    static Model adopt(cem_model_t *m) { Model r; r.h_.reset(m); return r; }

    /* cem_model_create_mlp: an untrained network for points in R^dim. */
    static Model mlp(int dim, cem_target target = CEM_TARGET_CEM)
    {
        cem_model_t *m = nullptr;
        check(cem_model_create_mlp(&m, dim, target));
        return adopt(m);
    }
    /* cem_model_create_empirical: the exact model of n points (n x dim). */
    static Model empirical(const float *points, std::size_t n, int dim)
    {
        cem_model_t *m = nullptr;
        check(cem_model_create_empirical(&m, points, n, dim));
        return adopt(m);
    }
    static Model empirical(const std::vector<float> &points, int dim)
    {
        return empirical(points.data(), detail::rows(points.size(), dim, "Model::empirical"), dim);
    }
    /* cem_model_create_empirical_labelled: the same with labels[i] in
     * 0 .. K-1 the class of point i (K = the largest label + 1). */
    static Model empirical(const float *points, const int *labels, std::size_t n, int dim)
    {
        cem_model_t *m = nullptr;
        check(cem_model_create_empirical_labelled(&m, points, labels, n, dim));
        return adopt(m);
    }
    static Model empirical(const std::vector<float> &points, const std::vector<int> &labels,
                           int dim)
    {
        std::size_t n = detail::rows(points.size(), dim, "Model::empirical");
        if (labels.size() != n)
            throw error(CEM_ERR_ARG, "Model::empirical: " + std::to_string(labels.size()) +
                                         " labels for " + std::to_string(n) + " points");
        return empirical(points.data(), labels.data(), n, dim);
    }
    /* cem_model_create_gaussian: N(mean, cov), cov dim x dim row-major. */
    static Model gaussian(const std::vector<float> &mean, const std::vector<float> &cov)
    {
        int dim = static_cast<int>(mean.size());
        detail::need(cov.size(), mean.size() * mean.size(), "Model::gaussian (cov)");
        cem_model_t *m = nullptr;
        check(cem_model_create_gaussian(&m, mean.data(), cov.data(), dim));
        return adopt(m);
    }
    /* cem_model_create_mixture: sum_k pi_k N(mean_k, cov_k) of K = rows of
     * means (K x dim) Gaussians, covs K blocks of dim x dim, weights K
     * values (empty: equal).  Its classes are the components. */
    static Model mixture(const std::vector<float> &means, const std::vector<float> &covs,
                         int dim, const std::vector<double> &weights = {})
    {
        std::size_t K = detail::rows(means.size(), dim, "Model::mixture (means)");
        const std::size_t d = detail::udim(dim);
        if (covs.size() != K * d * d)
            throw error(CEM_ERR_ARG, "Model::mixture: covs must hold K = " + std::to_string(K) +
                                         " blocks of dim x dim values");
        if (!weights.empty() && weights.size() != K)
            throw error(CEM_ERR_ARG, "Model::mixture: weights must hold K = " +
                                         std::to_string(K) + " values (or none)");
        cem_model_t *m = nullptr;
        check(cem_model_create_mixture(&m, static_cast<int>(K),
                                       weights.empty() ? nullptr : weights.data(), means.data(),
                                       covs.data(), dim));
        return adopt(m);
    }
    /* cem_model_load / cem_model_load_buffer. */
    static Model load(const std::string &path)
    {
        cem_model_t *m = nullptr;
        check(cem_model_load(&m, path.c_str()));
        return adopt(m);
    }
    static Model load_buffer(const void *buf, std::size_t size)
    {
        cem_model_t *m = nullptr;
        check(cem_model_load_buffer(&m, buf, size));
        return adopt(m);
    }

    /* A second owner of the same model (cem_model_retain). */
    Model share() const { cem_model_retain(h_.get()); return adopt(h_.get()); }

    cem_model_t *get() const noexcept { return h_.get(); }
    /* Gives up ownership: the caller must cem_model_free the result. */
    cem_model_t *release() noexcept { return h_.release(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

    /* cem_model_dim, cem_model_kind_of, cem_model_target_of,
     * cem_model_param_count (-1, -1, -1, 0 when empty). */
    int dim() const noexcept { return cem_model_dim(h_.get()); }
    int kind() const noexcept { return cem_model_kind_of(h_.get()); }
    int target() const noexcept { return cem_model_target_of(h_.get()); }
    std::size_t param_count() const noexcept { return cem_model_param_count(h_.get()); }
    /* K, the model's classes (CEM_MODEL_LABELS; 0: unlabelled). */
    int labels() const { return static_cast<int>(get(CEM_MODEL_LABELS)); }

    /* cem_model_eval: target `what` at x (n x dim) and times t (n). */
    void eval(cem_target what, const float *x, const double *t, std::size_t n, float *out,
              std::size_t out_size) const
    {
        detail::need(out_size, n * detail::udim(dim()), "Model::eval (out)");
        check(cem_model_eval(h_.get(), what, n, x, t, out));
    }
    std::vector<float> eval(cem_target what, const std::vector<float> &x,
                            const std::vector<double> &t) const
    {
        std::size_t n = detail::rows(x.size(), dim(), "Model::eval");
        detail::need(t.size(), n, "Model::eval (t)");
        std::vector<float> out(x.size());
        check(cem_model_eval(h_.get(), what, n, x.data(), t.data(), out.data()));
        return out;
    }
    /* cem_model_eval_labelled: row i answers for class labels[i] (or
     * unconditionally for CEM_LABEL_NONE); labels null: every row
     * unconditional. */
    void eval(cem_target what, const float *x, const double *t, const int *labels,
              std::size_t n, float *out, std::size_t out_size) const
    {
        detail::need(out_size, n * detail::udim(dim()), "Model::eval (out)");
        check(cem_model_eval_labelled(h_.get(), what, n, x, t, labels, out));
    }
    std::vector<float> eval(cem_target what, const std::vector<float> &x,
                            const std::vector<double> &t, const std::vector<int> &labels) const
    {
        std::size_t n = detail::rows(x.size(), dim(), "Model::eval");
        detail::need(t.size(), n, "Model::eval (t)");
        detail::need(labels.size(), n, "Model::eval (labels)");
        std::vector<float> out(x.size());
        check(cem_model_eval_labelled(h_.get(), what, n, x.data(), t.data(), labels.data(),
                                      out.data()));
        return out;
    }
    /* The same with one class for every row. */
    std::vector<float> eval(cem_target what, const std::vector<float> &x,
                            const std::vector<double> &t, int label) const
    {
        return eval(what, x, t,
                    std::vector<int>(detail::rows(x.size(), dim(), "Model::eval"), label));
    }
    /* cem_model_eval_at: one time for every point. */
    std::vector<float> eval_at(cem_target what, const std::vector<float> &x, double t) const
    {
        std::size_t n = detail::rows(x.size(), dim(), "Model::eval_at");
        std::vector<float> out(x.size());
        check(cem_model_eval_at(h_.get(), what, n, x.data(), t, out.data()));
        return out;
    }

    /* cem_model_set / cem_model_get / cem_model_option_bounds. */
    void set(cem_model_option opt, double value) { check(cem_model_set(h_.get(), opt, value)); }
    double get(cem_model_option opt) const
    {
        double v = 0;
        check(cem_model_get(h_.get(), opt, &v));
        return v;
    }
    static std::pair<double, double> bounds(cem_model_option opt)
    {
        double lo = 0, hi = 0;
        check(cem_model_option_bounds(opt, &lo, &hi));
        return {lo, hi};
    }

    /* cem_model_get_params / cem_model_set_params (ema: 0 raw, 1 average,
     * 2 both for set). */
    std::vector<float> params(int ema = 0) const
    {
        std::vector<float> out(param_count());
        check(cem_model_get_params(h_.get(), ema, out.data(), out.size()));
        return out;
    }
    void set_params(const std::vector<float> &in, int ema = 2)
    {
        check(cem_model_set_params(h_.get(), ema, in.data(), in.size()));
    }

    /* cem_model_set_data_stats / cem_model_get_data_stats: centre (dim
     * values; empty means zeros for set) and sd. */
    void set_data_stats(const std::vector<double> &mean, double sd)
    {
        if (!mean.empty())
            detail::need(mean.size(), detail::udim(dim()), "Model::set_data_stats (mean)");
        check(cem_model_set_data_stats(h_.get(), mean.empty() ? nullptr : mean.data(), sd));
    }
    std::pair<std::vector<double>, double> data_stats() const
    {
        std::vector<double> mean(detail::udim(dim()));
        double sd = 0;
        check(cem_model_get_data_stats(h_.get(), mean.data(), &sd));
        return {mean, sd};
    }

    /* cem_model_set_data_cov: centre (dim values; empty means zeros) and
     * covariance (dim x dim, row-major) of the data, for PRECOND_PCA. */
    void set_data_cov(const std::vector<double> &mean, const std::vector<double> &cov)
    {
        const std::size_t d = detail::udim(dim());
        if (!mean.empty())
            detail::need(mean.size(), d, "Model::set_data_cov (mean)");
        if (cov.size() != d * d)
            throw error(CEM_ERR_ARG, "Model::set_data_cov: cov must hold dim x dim values");
        check(cem_model_set_data_cov(h_.get(), mean.empty() ? nullptr : mean.data(),
                                     cov.data()));
    }
    /* cem_model_get_data_axes: {axes (dim x dim, row k the k-th axis),
     * their sds (dim)}. */
    std::pair<std::vector<double>, std::vector<double>> data_axes() const
    {
        const std::size_t d = detail::udim(dim());
        std::vector<double> axes(d * d), sd(d);
        check(cem_model_get_data_axes(h_.get(), axes.data(), sd.data()));
        return {axes, sd};
    }

    /* cem_model_save / cem_model_save_buffer (MLP models only). */
    void save(const std::string &path) const { check(cem_model_save(h_.get(), path.c_str())); }
    std::vector<unsigned char> save_buffer() const
    {
        void *buf = nullptr;
        std::size_t size = 0;
        check(cem_model_save_buffer(h_.get(), &buf, &size));
        std::unique_ptr<void, detail::buffer_free> own(buf);
        const auto *b = static_cast<const unsigned char *>(buf);
        return std::vector<unsigned char>(b, b + size);
    }

    /* cem_model_errmsg: the last message recorded on this model. */
    std::string errmsg() const { return cem_model_errmsg(h_.get()); }

private:
    std::unique_ptr<cem_model_t, detail::model_free> h_;
};

/* ------------------------------------------------------------ Trainer */

/* Owner of a cem_trainer_t.  The trainer keeps its own reference to the
 * model; while it exists the model's network options are CEM_ERR_BUSY. */
class Trainer {
public:
    Trainer() = default;
    /* cem_trainer_create on data (n x dim, copied by the library). */
    Trainer(const Model &m, const float *data, std::size_t n, int dim)
    {
        cem_trainer_t *t = nullptr;
        check(cem_trainer_create(&t, m.get(), data, n, dim));
        h_.reset(t);
    }
    Trainer(const Model &m, const std::vector<float> &data)
        : Trainer(m, data.data(), detail::rows(data.size(), m.dim(), "Trainer"), m.dim()) {}
    /* cem_trainer_create_labelled: labels[i] (copied) the class of row i,
     * in 0 .. K-1 of the model's K = CEM_MODEL_LABELS, or CEM_LABEL_NONE. */
    Trainer(const Model &m, const float *data, const int *labels, std::size_t n, int dim)
    {
        cem_trainer_t *t = nullptr;
        check(cem_trainer_create_labelled(&t, m.get(), data, labels, n, dim));
        h_.reset(t);
    }
    Trainer(const Model &m, const std::vector<float> &data, const std::vector<int> &labels)
        : Trainer(m, data.data(), labels_of(labels, data.size(), m.dim(), "Trainer"),
                  labels.size(), m.dim()) {}

    /* cem_trainer_load / cem_trainer_load_buffer with the training data. */
    static Trainer load(const std::string &path, const std::vector<float> &data, int dim)
    {
        cem_trainer_t *t = nullptr;
        check(cem_trainer_load(&t, path.c_str(), data.data(),
                               detail::rows(data.size(), dim, "Trainer::load"), dim));
        return adopt(t);
    }
    static Trainer load_buffer(const std::vector<unsigned char> &buf,
                               const std::vector<float> &data, int dim)
    {
        cem_trainer_t *t = nullptr;
        check(cem_trainer_load_buffer(&t, buf.data(), buf.size(), data.data(),
                                      detail::rows(data.size(), dim, "Trainer::load_buffer"),
                                      dim));
        return adopt(t);
    }
    /* cem_trainer_load_labelled / cem_trainer_load_buffer_labelled: a
     * labelled trainer's checkpoint, with its data and labels. */
    static Trainer load(const std::string &path, const std::vector<float> &data,
                        const std::vector<int> &labels, int dim)
    {
        cem_trainer_t *t = nullptr;
        check(cem_trainer_load_labelled(&t, path.c_str(), data.data(),
                                        labels_of(labels, data.size(), dim, "Trainer::load"),
                                        labels.size(), dim));
        return adopt(t);
    }
    static Trainer load_buffer(const std::vector<unsigned char> &buf,
                               const std::vector<float> &data, const std::vector<int> &labels,
                               int dim)
    {
        cem_trainer_t *t = nullptr;
        check(cem_trainer_load_buffer_labelled(
            &t, buf.data(), buf.size(), data.data(),
            labels_of(labels, data.size(), dim, "Trainer::load_buffer"), labels.size(), dim));
        return adopt(t);
    }
    static Trainer adopt(cem_trainer_t *t) { Trainer r; r.h_.reset(t); return r; }

    cem_trainer_t *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

    /* The trained model as an owner of its own reference
     * (cem_trainer_model + cem_model_retain): valid after the trainer is
     * gone.  Empty when the trainer is. */
    Model model() const
    {
        cem_model_t *m = cem_trainer_model(h_.get());
        cem_model_retain(m);
        return Model::adopt(m);
    }

    /* Called after every step with (step count, loss); returning true
     * stops the run after that step; an exception thrown in it stops the
     * run and is rethrown by run().  An empty function removes it. */
    void on_progress(std::function<bool(long, double)> fn)
    {
        if (!fn) {
            check(cem_trainer_set_progress(h_.get(), nullptr, nullptr));
            progress_.reset();
            return;
        }
        auto st = std::make_unique<detail::progress_state>();
        st->fn = std::move(fn);
        check(cem_trainer_set_progress(h_.get(), &cemdiff_hpp_progress_v0, st.get()));
        progress_ = std::move(st);
    }

    /* cem_trainer_set_reduce: this trainer is rank `rank` of `world`
     * data-parallel trainers made alike; once a step run() calls
     * fn(grad, n, stats, m, first, parts) on its own thread with this
     * rank's `parts` micro-batches from `first` (grad parts x n floats,
     * stats parts x m doubles, room for one block each when parts = 0),
     * and fn must leave in grad[0 .. n) and stats[0 .. m) the sums over all
     * the step's micro-batches (added in micro-batch order: bitwise one
     * trainer).  fn may block; it must not call this trainer.  An exception
     * thrown in it fails the step (CEM_ERR_REDUCE, the trainer as before
     * the step) and is rethrown by run().  An empty fn with world = 1 makes
     * it a single trainer again; error(CEM_ERR_ARG) for world < 1, a rank
     * outside [0, world) or an empty fn with world > 1 (the trainer and
     * its callback unchanged). */
    void set_reduce(int rank, int world,
                    std::function<void(float *grad, std::size_t n, double *stats,
                                       std::size_t m, int first, int parts)> fn)
    {
        if (!fn) {
            check(cem_trainer_set_reduce(h_.get(), rank, world, nullptr, nullptr));
            reduce_.reset();
            return;
        }
        auto st = std::make_unique<detail::reduce_state>();
        st->fn = std::move(fn);
        check(cem_trainer_set_reduce(h_.get(), rank, world, &cemdiff_hpp_reduce_v0, st.get()));
        reduce_ = std::move(st);
    }

    /* cem_trainer_run: `steps` steps, the mean of their losses (NaN when
     * none ran).  Rethrows the progress callback's exception (the steps
     * done before it are kept, see steps()), and the reduce callback's (the
     * step it failed was not taken); a stop the progress callback asked for
     * (CEM_ERR_STOPPED) is no error here. */
    double run(long steps)
    {
        double mean = 0;
        int status = cem_trainer_run(h_.get(), steps, &mean);
        if (reduce_ && reduce_->caught) {
            std::exception_ptr e = reduce_->caught;
            reduce_->caught = nullptr;
            std::rethrow_exception(e);
        }
        if (progress_ && progress_->caught) {
            std::exception_ptr e = progress_->caught;
            progress_->caught = nullptr;
            std::rethrow_exception(e);
        }
        if (status != CEM_ERR_STOPPED)
            check(status);
        return mean;
    }

    /* cem_trainer_step_batch / cem_trainer_loss_batch on B rows (x0, z
     * B x dim, t B times); loss_batch fills grad (param_count floats) when
     * given non-empty. */
    double step_batch(const std::vector<float> &x0, const std::vector<double> &t,
                      const std::vector<float> &z)
    {
        int B = batch_rows(x0, t, z);
        double loss = 0;
        check(cem_trainer_step_batch(h_.get(), B, x0.data(), t.data(), z.data(), &loss));
        return loss;
    }
    double loss_batch(const std::vector<float> &x0, const std::vector<double> &t,
                      const std::vector<float> &z, std::vector<float> *grad = nullptr)
    {
        int B = batch_rows(x0, t, z);
        double loss = 0;
        if (grad)
            grad->assign(model().param_count(), 0.0f);
        check(cem_trainer_loss_batch(h_.get(), B, x0.data(), t.data(), z.data(), &loss,
                                     grad ? grad->data() : nullptr));
        return loss;
    }
    /* cem_trainer_step_batch_labelled / cem_trainer_loss_batch_labelled:
     * the same with a class a row (B labels in [-1, K), no dropout). */
    double step_batch(const std::vector<float> &x0, const std::vector<double> &t,
                      const std::vector<float> &z, const std::vector<int> &labels)
    {
        int B = batch_rows(x0, t, z, &labels);
        double loss = 0;
        check(cem_trainer_step_batch_labelled(h_.get(), B, x0.data(), labels.data(), t.data(),
                                              z.data(), &loss));
        return loss;
    }
    double loss_batch(const std::vector<float> &x0, const std::vector<double> &t,
                      const std::vector<float> &z, const std::vector<int> &labels,
                      std::vector<float> *grad = nullptr)
    {
        int B = batch_rows(x0, t, z, &labels);
        double loss = 0;
        if (grad)
            grad->assign(model().param_count(), 0.0f);
        check(cem_trainer_loss_batch_labelled(h_.get(), B, x0.data(), labels.data(), t.data(),
                                              z.data(), &loss, grad ? grad->data() : nullptr));
        return loss;
    }

    /* cem_trainer_time_bins_n: the loss by time bin since the last reset
     * (CEM_TRAINER_BINS bins; mean NaN for an empty bin), edges one more. */
    struct time_bins_t {
        std::vector<double> mean;
        std::vector<long> count;
        std::vector<double> edges;
    };
    time_bins_t time_bins(bool reset = false)
    {
        time_bins_t b{std::vector<double>(CEM_TRAINER_BINS), std::vector<long>(CEM_TRAINER_BINS),
                      std::vector<double>(CEM_TRAINER_BINS + 1)};
        check(cem_trainer_time_bins_n(h_.get(), CEM_TRAINER_BINS, b.mean.data(), b.count.data(),
                                      b.edges.data(), reset ? 1 : 0));
        return b;
    }
    /* cem_trainer_law_bins_n: the time law now (CEM_TRAINER_LAW_BINS bins). */
    struct law_bins_t {
        std::vector<double> prob, loss, floor, edges;
    };
    law_bins_t law_bins() const
    {
        const std::size_t n = CEM_TRAINER_LAW_BINS;
        law_bins_t b{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n),
                     std::vector<double>(n + 1)};
        check(cem_trainer_law_bins_n(h_.get(), n, b.prob.data(), b.loss.data(), b.floor.data(),
                                     b.edges.data()));
        return b;
    }

    /* cem_trainer_steps (-1 when empty). */
    long steps() const noexcept { return cem_trainer_steps(h_.get()); }

    /* cem_trainer_set / cem_trainer_get / cem_trainer_option_bounds. */
    void set(cem_trainer_option opt, double value) { check(cem_trainer_set(h_.get(), opt, value)); }
    double get(cem_trainer_option opt) const
    {
        double v = 0;
        check(cem_trainer_get(h_.get(), opt, &v));
        return v;
    }
    static std::pair<double, double> bounds(cem_trainer_option opt)
    {
        double lo = 0, hi = 0;
        check(cem_trainer_option_bounds(opt, &lo, &hi));
        return {lo, hi};
    }

    /* cem_trainer_save / cem_trainer_save_buffer. */
    void save(const std::string &path) const { check(cem_trainer_save(h_.get(), path.c_str())); }
    std::vector<unsigned char> save_buffer() const
    {
        void *buf = nullptr;
        std::size_t size = 0;
        check(cem_trainer_save_buffer(h_.get(), &buf, &size));
        std::unique_ptr<void, detail::buffer_free> own(buf);
        const auto *b = static_cast<const unsigned char *>(buf);
        return std::vector<unsigned char>(b, b + size);
    }

    /* cem_trainer_errmsg. */
    std::string errmsg() const { return cem_trainer_errmsg(h_.get()); }

private:
    int batch_rows(const std::vector<float> &x0, const std::vector<double> &t,
                   const std::vector<float> &z, const std::vector<int> *labels = nullptr) const
    {
        std::size_t B = t.size();
        std::size_t d = detail::udim(cem_model_dim(cem_trainer_model(h_.get())));
        if (x0.size() != B * d || z.size() != B * d)
            throw error(CEM_ERR_ARG, "Trainer batch: x0 and z must hold t.size() rows of dim");
        if (labels && labels->size() != B)
            throw error(CEM_ERR_ARG, "Trainer batch: labels must hold t.size() values");
        return static_cast<int>(B);
    }
    /* labels.data() after checking one label a row of data. */
    static const int *labels_of(const std::vector<int> &labels, std::size_t floats, int dim,
                                const char *what)
    {
        std::size_t n = detail::rows(floats, dim, what);
        if (labels.size() != n)
            throw error(CEM_ERR_ARG, std::string(what) + ": " + std::to_string(labels.size()) +
                                         " labels for " + std::to_string(n) + " rows");
        return labels.data();
    }

    /* Declared before h_: destroyed after the trainer that points at them. */
    std::unique_ptr<detail::progress_state> progress_;
    std::unique_ptr<detail::reduce_state> reduce_;
    std::unique_ptr<cem_trainer_t, detail::trainer_free> h_;
};

/* ------------------------------------------------------------ Sampler */

/* Owner of a cem_sampler_t (which keeps its own reference to the model). */
class Sampler {
public:
    Sampler() = default;
    /* cem_sampler_create with the default options. */
    explicit Sampler(const Model &m)
    {
        cem_sampler_t *s = nullptr;
        check(cem_sampler_create(&s, m.get()));
        h_.reset(s);
        dim_ = m.dim();
    }

    cem_sampler_t *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }
    int dim() const noexcept { return dim_; }

    /* cem_sampler_set_progress: fn(rows done, rows requested) after each
     * wave of blocks; returning true stops the run (run() then throws
     * error(CEM_ERR_STOPPED) with rows [0, done) valid).  An exception from
     * fn stops the run and is rethrown by run().  An empty fn removes it. */
    void on_progress(std::function<bool(std::size_t, std::size_t)> fn)
    {
        if (!fn) {
            check(cem_sampler_set_progress(h_.get(), nullptr, nullptr));
            progress_.reset();
            return;
        }
        auto st = std::make_unique<detail::sampler_progress_state>();
        st->fn = std::move(fn);
        check(cem_sampler_set_progress(h_.get(), &cemdiff_hpp_sampler_progress_v0, st.get()));
        progress_ = std::move(st);
    }

    /* cem_sampler_run_rows into out (out_size >= n * dim floats): rows
     * first .. first + n - 1.  Returns the number of diverged rows; when
     * some rows diverged (CEM_ERR_DIVERGED) it throws unless
     * allow_diverged, in which case those rows are NaN and the rest valid.
     * Rethrows the progress callback's exception. */
    std::size_t run(std::size_t first, std::size_t n, float *out, std::size_t out_size,
                    bool allow_diverged = false)
    {
        detail::need(out_size, n * detail::udim(dim_), "Sampler::run (out)");
        int status = first == 0 ? cem_sampler_run(h_.get(), n, out)
                                : cem_sampler_run_rows(h_.get(), first, n, out);
        return finish(status, allow_diverged);
    }
    /* n samples, n x dim row-major (rows 0 .. n-1 of the seed's streams). */
    std::vector<float> sample(std::size_t n)
    {
        std::vector<float> out(n * detail::udim(dim_));
        run(0, n, out.data(), out.size());
        return out;
    }

    /* cem_sampler_run_labelled: row first + i from class labels[i] (in
     * [-1, K); labels null: CEM_SAMPLER_LABEL for every row), guided by
     * CEM_SAMPLER_GUIDANCE; otherwise as run(). */
    std::size_t run_labelled(std::size_t first, std::size_t n, const int *labels, float *out,
                             std::size_t out_size, bool allow_diverged = false)
    {
        detail::need(out_size, n * detail::udim(dim_), "Sampler::run_labelled (out)");
        return finish(cem_sampler_run_labelled(h_.get(), first, n, labels, out),
                      allow_diverged);
    }
    /* One sample per label, labels.size() x dim (rows 0 .. n-1). */
    std::vector<float> sample(const std::vector<int> &labels)
    {
        std::vector<float> out(labels.size() * detail::udim(dim_));
        run_labelled(0, labels.size(), labels.data(), out.data(), out.size());
        return out;
    }

    /* cem_sampler_impute: completes n partial points x (n x dim) into out,
     * the known coordinates bitwise as given.  known (n x dim, 1 known, 0
     * missing) may be null: then NaN marks the missing coordinates; labels
     * (n) may be null.  Row first + i draws from stream (SEED, first + i).
     * Diverged rows as run(). */
    std::size_t impute(std::size_t first, std::size_t n, const float *x,
                       const unsigned char *known, const int *labels, float *out,
                       std::size_t out_size, bool allow_diverged = false)
    {
        detail::need(out_size, n * detail::udim(dim_), "Sampler::impute (out)");
        return finish(cem_sampler_impute(h_.get(), first, n, x, known, labels, out),
                      allow_diverged);
    }
    /* The completed rows of x (n x dim); known empty: NaN marks what is
     * missing, else n x dim flags; labels empty: none, else n classes. */
    std::vector<float> impute(const std::vector<float> &x,
                              const std::vector<unsigned char> &known = {},
                              const std::vector<int> &labels = {}, std::size_t first = 0)
    {
        std::size_t n = detail::rows(x.size(), dim_, "Sampler::impute");
        if (!known.empty() && known.size() != x.size())
            throw error(CEM_ERR_ARG, "Sampler::impute: known must hold x.size() flags (or none)");
        if (!labels.empty() && labels.size() != n)
            throw error(CEM_ERR_ARG, "Sampler::impute: labels must hold one class a row (or none)");
        std::vector<float> out(x.size());
        impute(first, n, x.data(), known.empty() ? nullptr : known.data(),
               labels.empty() ? nullptr : labels.data(), out.data(), out.size());
        return out;
    }

    /* cem_sampler_diverged_rows of the last run. */
    std::size_t diverged_rows() const noexcept { return cem_sampler_diverged_rows(h_.get()); }

    /* cem_sampler_trajectory of the last run (its first CEM_SAMPLER_TRAJ_ROWS rows):
     * snaps x rows x dim floats, snapshot-major, and the snapshots' times. */
    struct trajectory_t {
        std::size_t snaps = 0, rows = 0;
        std::vector<float> y;
        std::vector<double> times;
    };
    trajectory_t trajectory() const
    {
        trajectory_t tr;
        check(cem_sampler_trajectory(h_.get(), &tr.snaps, &tr.rows, nullptr, nullptr));
        tr.y.resize(tr.snaps * tr.rows * detail::udim(dim_));
        tr.times.resize(tr.snaps);
        check(cem_sampler_trajectory(h_.get(), &tr.snaps, &tr.rows, tr.y.data(),
                                     tr.times.data()));
        return tr;
    }

    /* cem_sampler_times: the plan's STEPS times, increasing. */
    std::vector<double> times() const
    {
        std::vector<double> out(static_cast<std::size_t>(get(CEM_SAMPLER_STEPS)));
        check(cem_sampler_times(h_.get(), out.data()));
        return out;
    }

    /* cem_sampler_set / cem_sampler_get / cem_sampler_option_bounds. */
    void set(cem_sampler_option opt, double value) { check(cem_sampler_set(h_.get(), opt, value)); }
    double get(cem_sampler_option opt) const
    {
        double v = 0;
        check(cem_sampler_get(h_.get(), opt, &v));
        return v;
    }
    static std::pair<double, double> bounds(cem_sampler_option opt)
    {
        double lo = 0, hi = 0;
        check(cem_sampler_option_bounds(opt, &lo, &hi));
        return {lo, hi};
    }

    /* cem_sampler_errmsg. */
    std::string errmsg() const { return cem_sampler_errmsg(h_.get()); }

private:
    /* Rethrows the progress callback's exception, then answers the status:
     * the diverged rows when allowed, else throws on any failure. */
    std::size_t finish(int status, bool allow_diverged)
    {
        if (progress_ && progress_->caught) {
            std::exception_ptr e = progress_->caught;
            progress_->caught = nullptr;
            std::rethrow_exception(e);
        }
        if (status == CEM_ERR_DIVERGED && allow_diverged)
            return cem_sampler_diverged_rows(h_.get());
        check(status);
        return 0;
    }
    /* Declared before h_: destroyed after the sampler that points at it. */
    std::unique_ptr<detail::sampler_progress_state> progress_;
    std::unique_ptr<cem_sampler_t, detail::sampler_free> h_;
    int dim_ = 0;
};

/* ------------------------------------------------------------ Flow */

/* Owner of a cem_flow_t: the probability-flow ODE of a model as a density
 * (logprob) and an encoder (encode, decode). */
class Flow {
public:
    Flow() = default;
    /* cem_flow_create with the default options. */
    explicit Flow(const Model &m)
    {
        cem_flow_t *f = nullptr;
        check(cem_flow_create(&f, m.get()));
        h_.reset(f);
        dim_ = m.dim();
    }

    cem_flow_t *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }
    int dim() const noexcept { return dim_; }

    /* cem_flow_set_progress, as Sampler::on_progress. */
    void on_progress(std::function<bool(std::size_t, std::size_t)> fn)
    {
        if (!fn) {
            check(cem_flow_set_progress(h_.get(), nullptr, nullptr));
            progress_.reset();
            return;
        }
        auto st = std::make_unique<detail::sampler_progress_state>();
        st->fn = std::move(fn);
        check(cem_flow_set_progress(h_.get(), &cemdiff_hpp_sampler_progress_v0, st.get()));
        progress_ = std::move(st);
    }

    /* cem_flow_logprob: log p_t1 at the points x (n x dim); evals, when not
     * null, gets the model evaluations of each row. */
    std::vector<double> logprob(const std::vector<float> &x, std::vector<std::size_t> *evals = nullptr)
    {
        std::size_t n = detail::rows(x.size(), dim_, "cemdiff::Flow::logprob");
        std::vector<double> out(n);
        if (evals)
            evals->assign(n, 0);
        finish(cem_flow_logprob(h_.get(), n, x.data(), out.data(), evals ? evals->data() : nullptr));
        return out;
    }
    /* cem_flow_encode / cem_flow_decode: latents of points, points of latents. */
    std::vector<float> encode(const std::vector<float> &x)
    {
        std::vector<float> out(x.size());
        finish(cem_flow_encode(h_.get(), detail::rows(x.size(), dim_, "cemdiff::Flow::encode"),
                               x.data(), out.data()));
        return out;
    }
    std::vector<float> decode(const std::vector<float> &z)
    {
        std::vector<float> out(z.size());
        finish(cem_flow_decode(h_.get(), detail::rows(z.size(), dim_, "cemdiff::Flow::decode"),
                               z.data(), out.data()));
        return out;
    }

    /* cem_flow_set / cem_flow_get / cem_flow_option_bounds. */
    void set(cem_flow_option opt, double value) { check(cem_flow_set(h_.get(), opt, value)); }
    double get(cem_flow_option opt) const
    {
        double v = 0;
        check(cem_flow_get(h_.get(), opt, &v));
        return v;
    }
    static std::pair<double, double> bounds(cem_flow_option opt)
    {
        double lo = 0, hi = 0;
        check(cem_flow_option_bounds(opt, &lo, &hi));
        return {lo, hi};
    }

    /* cem_flow_errmsg. */
    std::string errmsg() const { return cem_flow_errmsg(h_.get()); }

private:
    /* Rethrows the progress callback's exception, then checks the status. */
    void finish(int status)
    {
        if (progress_ && progress_->caught) {
            std::exception_ptr e = progress_->caught;
            progress_->caught = nullptr;
            std::rethrow_exception(e);
        }
        check(status);
    }
    std::unique_ptr<detail::sampler_progress_state> progress_;
    std::unique_ptr<cem_flow_t, detail::flow_free> h_;
    int dim_ = 0;
};

/* ------------------------------------------------------------ Dataset */

/* Owner of a cem_dataset_t. */
class Dataset {
public:
    Dataset() = default;
    /* cem_dataset_create: `kind` in R^dim (seed keys the embedding). */
    Dataset(cem_dataset_kind kind, int dim, std::uint64_t seed = 0)
    {
        cem_dataset_t *d = nullptr;
        check(cem_dataset_create(&d, kind, dim, seed));
        h_.reset(d);
    }

    cem_dataset_t *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

    /* cem_dataset_dim / _native_dim / _intrinsic_dim (-1 when empty). */
    int dim() const noexcept { return cem_dataset_dim(h_.get()); }
    int native_dim() const noexcept { return cem_dataset_native_dim(h_.get()); }
    int intrinsic_dim() const noexcept { return cem_dataset_intrinsic_dim(h_.get()); }

    /* cem_dataset_sample: n points (n x dim) into out, or as a vector. */
    void sample(std::size_t n, std::uint64_t seed, float *out, std::size_t out_size) const
    {
        detail::need(out_size, n * detail::udim(dim()), "Dataset::sample (out)");
        check(cem_dataset_sample(h_.get(), n, seed, out));
    }
    std::vector<float> sample(std::size_t n, std::uint64_t seed = 0) const
    {
        std::vector<float> out(n * detail::udim(dim()));
        sample(n, seed, out.data(), out.size());
        return out;
    }

    /* cem_dataset_distance / cem_dataset_coordinate of the rows of x. */
    std::vector<double> distance(const std::vector<float> &x) const
    {
        std::vector<double> out(detail::rows(x.size(), dim(), "Dataset::distance"));
        check(cem_dataset_distance(h_.get(), out.size(), x.data(), out.data()));
        return out;
    }
    std::vector<double> coordinate(const std::vector<float> &x) const
    {
        std::vector<double> out(detail::rows(x.size(), dim(), "Dataset::coordinate"));
        check(cem_dataset_coordinate(h_.get(), out.size(), x.data(), out.data()));
        return out;
    }
    /* cem_dataset_coordinate_cdf (NaN when empty). */
    double coordinate_cdf(double u) const noexcept { return cem_dataset_coordinate_cdf(h_.get(), u); }

    /* cem_dataset_set / _get / _option_bounds. */
    void set(cem_dataset_option opt, double value) { check(cem_dataset_set(h_.get(), opt, value)); }
    double get(cem_dataset_option opt) const
    {
        double v = 0;
        check(cem_dataset_get(h_.get(), opt, &v));
        return v;
    }
    static std::pair<double, double> bounds(cem_dataset_option opt)
    {
        double lo = 0, hi = 0;
        check(cem_dataset_option_bounds(opt, &lo, &hi));
        return {lo, hi};
    }

    /* cem_dataset_set_affine (offset empty: zeros) / cem_dataset_get_affine. */
    void set_affine(double scale, const std::vector<double> &offset = {})
    {
        if (!offset.empty())
            detail::need(offset.size(), detail::udim(dim()), "Dataset::set_affine (offset)");
        check(cem_dataset_set_affine(h_.get(), scale, offset.empty() ? nullptr : offset.data()));
    }
    std::pair<double, std::vector<double>> affine() const
    {
        double scale = 0;
        std::vector<double> offset(detail::udim(dim()));
        check(cem_dataset_get_affine(h_.get(), &scale, offset.data()));
        return {scale, offset};
    }

    /* cem_dataset_errmsg. */
    std::string errmsg() const { return cem_dataset_errmsg(h_.get()); }

private:
    std::unique_ptr<cem_dataset_t, detail::dataset_free> h_;
};

/* ------------------------------------------------------------ metrics */

/* cem_metric_distance: mean, 95th percentile and maximum distance. */
struct DistanceStats { double mean, p95, max; };
inline DistanceStats metric_distance(const Dataset &d, const std::vector<float> &x)
{
    DistanceStats s{0, 0, 0};
    check(cem_metric_distance(d.get(), detail::rows(x.size(), d.dim(), "metric_distance"),
                              x.data(), &s.mean, &s.p95, &s.max));
    return s;
}

/* cem_metric_sliced_w2 between the rows of a and b (both of dim). */
inline double metric_sliced_w2(const std::vector<float> &a, const std::vector<float> &b, int dim,
                               int directions = 256, std::uint64_t seed = 0)
{
    double out = 0;
    check(cem_metric_sliced_w2(detail::rows(a.size(), dim, "metric_sliced_w2 (a)"), a.data(),
                               detail::rows(b.size(), dim, "metric_sliced_w2 (b)"), b.data(),
                               dim, directions, seed, &out));
    return out;
}

/* cem_metric_energy. */
inline double metric_energy(const std::vector<float> &a, const std::vector<float> &b, int dim)
{
    double out = 0;
    check(cem_metric_energy(detail::rows(a.size(), dim, "metric_energy (a)"), a.data(),
                            detail::rows(b.size(), dim, "metric_energy (b)"), b.data(), dim,
                            &out));
    return out;
}

/* cem_metric_mmd with the Gaussian kernel of `bandwidth`. */
inline double metric_mmd(const std::vector<float> &a, const std::vector<float> &b, int dim,
                         double bandwidth)
{
    double out = 0;
    check(cem_metric_mmd(detail::rows(a.size(), dim, "metric_mmd (a)"), a.data(),
                         detail::rows(b.size(), dim, "metric_mmd (b)"), b.data(), dim,
                         bandwidth, &out));
    return out;
}

/* cem_metric_ks of the intrinsic coordinates of the rows of x. */
inline double metric_ks(const Dataset &d, const std::vector<float> &x)
{
    double out = 0;
    check(cem_metric_ks(d.get(), detail::rows(x.size(), d.dim(), "metric_ks"), x.data(), &out));
    return out;
}

/* cem_singularity_profile at times t: max and mean (3 x nt, row w the
 * cem_target w) and the three slopes. */
struct Profile { std::vector<double> max, mean, slope; };
inline Profile singularity_profile(const Model &m, const std::vector<float> &probes,
                                   const std::vector<double> &t)
{
    Profile p{std::vector<double>(3 * t.size()), std::vector<double>(3 * t.size()),
              std::vector<double>(3)};
    check(cem_singularity_profile(m.get(), detail::rows(probes.size(), m.dim(), "singularity_profile"),
                                  probes.data(), static_cast<int>(t.size()), t.data(),
                                  p.max.data(), p.mean.data(), p.slope.data()));
    return p;
}

/* ------------------------------------------------------------ CSV */

/* cem_csv_read: the rows (n x dim) of a CSV file. */
struct Table { std::vector<float> data; std::size_t n; int dim; };
inline Table csv_read(const std::string &path)
{
    float *data = nullptr;
    std::size_t n = 0;
    int dim = 0;
    check(cem_csv_read(path.c_str(), &data, &n, &dim));
    std::unique_ptr<void, detail::buffer_free> own(data);
    return Table{std::vector<float>(data, data + n * detail::udim(dim)), n, dim};
}

/* cem_csv_read_missing: the rows of a CSV file of partial points, an
 * empty field read as NaN (what Sampler::impute completes). */
inline Table csv_read_missing(const std::string &path)
{
    float *data = nullptr;
    std::size_t n = 0;
    int dim = 0;
    check(cem_csv_read_missing(path.c_str(), &data, &n, &dim));
    std::unique_ptr<void, detail::buffer_free> own(data);
    return Table{std::vector<float>(data, data + n * detail::udim(dim)), n, dim};
}

/* cem_csv_read_labelled: the points (n x dim, dim = fields - 1) and the
 * integer labels of column label_col (0-based) of a CSV file. */
struct LabelledTable { std::vector<float> data; std::vector<int> labels; std::size_t n; int dim; };
inline LabelledTable csv_read_labelled(const std::string &path, int label_col)
{
    float *data = nullptr;
    int *labels = nullptr;
    std::size_t n = 0;
    int dim = 0;
    check(cem_csv_read_labelled(path.c_str(), label_col, &data, &labels, &n, &dim));
    std::unique_ptr<void, detail::buffer_free> own_data(data), own_labels(labels);
    return LabelledTable{std::vector<float>(data, data + n * detail::udim(dim)),
                         std::vector<int>(labels, labels + n), n, dim};
}

/* cem_csv_write: rows of dim floats. */
inline void csv_write(const std::string &path, const std::vector<float> &data, int dim)
{
    check(cem_csv_write(path.c_str(), data.data(), detail::rows(data.size(), dim, "csv_write"), dim));
}

} // namespace cemdiff

#endif /* CEMDIFF_HPP */
