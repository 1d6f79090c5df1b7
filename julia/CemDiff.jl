"""
    CemDiff

Julia bindings of libcemdiff (include/cemdiff.h is the manual).

Two layers:
  - gen_api.jl, generated from the header by tools/cemdiff_api.py: every
    constant (`CEM_*`) and one function per C function, named as in C
    (`CemDiff.cem_model_eval(...)`), that is its ccall and returns what C
    returns (status codes included);
  - this file: owners of the handles (`Model`, `Trainer`, `Sampler`,
    `Dataset`; released by finalizers or `close`), `CemError` thrown for a
    failing status, and arrays as Julia matrices.

Points are `Matrix{Float32}` of size (dim, n): column j is point j.  Julia
stores a matrix column-major, so a dim x n Julia matrix is, byte for byte,
the header's n x dim row-major array (point i at x[i*dim .. i*dim+dim-1]);
it is passed to the library without a copy.

The library is `ENV["CEMDIFF_LIBRARY"]` when set (a path) when this module is
loaded, otherwise `libcemdiff.so.<major>` through the dynamic loader's path.
"""
module CemDiff

import Libdl

include("gen_api.jl")

const libcemdiff = get(ENV, "CEMDIFF_LIBRARY", "libcemdiff.so.$(CEM_VERSION_MAJOR)")

export CemError, Model, Trainer, Sampler, Dataset
export evaluate, setoption!, getoption, option_bounds, params, model, train!, steps,
    on_progress!, sample, distance, coordinate, metric_distance, metric_sliced_w2,
    metric_energy, metric_mmd, metric_ks, save, version

# Every CEM_* constant is exported too.
for name in names(@__MODULE__; all=true)
    if startswith(string(name), "CEM_")
        @eval export $name
    end
end

function __init__()
    # The library must load, export every function of the header, and be
    # of the header's major version.
    handle = Libdl.dlopen(libcemdiff)
    for f in CEM_FUNCTIONS
        Libdl.dlsym(handle, f)
    end
    major = div(cem_version_number(), 10000)
    if major != CEM_VERSION_MAJOR
        error("CemDiff: $(libcemdiff) is version $(unsafe_string(cem_version_string())), " *
              "the bindings need major version $(CEM_VERSION_MAJOR)")
    end
end

# ------------------------------------------------------------------ errors

"""
    CemError(status, name, message)

A failed call: `status` the CEM_ERR_* code, `name` its cem_status_string,
`message` the library's explanation (cem_last_error).
"""
struct CemError <: Exception
    status::Int
    name::String
    message::String
end

Base.showerror(io::IO, e::CemError) =
    print(io, "CemError: ", e.message, " (", e.name, ", status ", e.status, ")")

"""
    check(status)

Throws `CemError` unless `status` is CEM_OK.  The message is read at once
from cem_last_error (per OS thread; nothing runs between the failing call
and this read that could move the task to another thread).
"""
function check(status::Integer)
    status == CEM_OK && return nothing
    throw(CemError(status, unsafe_string(cem_status_string(status)),
                   unsafe_string(cem_last_error())))
end

version() = VersionNumber(unsafe_string(cem_version_string()))

# The points of a call: a dense Float32 matrix of `dim` rows.
function _points(x::Matrix{Float32}, dim::Integer)
    size(x, 1) == dim || throw(DimensionMismatch("points have $(size(x, 1)) rows, dim is $(dim)"))
    return size(x, 2)
end

# Keyword options to enum values: width=32 with prefix "CEM_MODEL_" is CEM_MODEL_WIDTH.
function _option(prefix::String, key::Symbol)
    name = Symbol(prefix, uppercase(string(key)))
    isdefined(@__MODULE__, name) || throw(ArgumentError("no option $(name)"))
    return getfield(@__MODULE__, name)
end

# -------------------------------------------------------------- handles

"""
    Model

Owner of one reference to a cem_model_t (models are reference counted: a
Trainer or Sampler keeps its own).  Made by `Model(dim, target; options...)`
(an untrained MLP), `Model(points)` (the exact empirical model),
`Model(mean, cov)` (a Gaussian), `Model(path::AbstractString)` (a
checkpoint).  Released by its finalizer or `close`.
"""
mutable struct Model
    ptr::Ptr{Cvoid}
    # Takes over a reference the caller owns.
    function Model(ptr::Ptr{Cvoid})
        ptr == C_NULL && throw(ArgumentError("Model: null handle"))
        return finalizer(_close_model, new(ptr))
    end
end

function _close_model(m::Model)
    cem_model_free(m.ptr)
    m.ptr = C_NULL
    return nothing
end

Base.close(m::Model) = _close_model(m)
Base.unsafe_convert(::Type{Ptr{Cvoid}}, m::Model) = m.ptr

function _new_model(f, args...)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(f(out, args...))
    return Model(out[])
end

function Model(dim::Integer, target::Integer=CEM_TARGET_CEM; options...)
    m = _new_model(cem_model_create_mlp, dim, target)
    for (k, v) in options
        setoption!(m, _option("CEM_MODEL_", k), v)
    end
    return m
end

Model(points::Matrix{Float32}) =
    _new_model(cem_model_create_empirical, points, size(points, 2), size(points, 1))

# cov is symmetric; the transpose makes its row-major reading exact anyway.
Model(mean::Vector{Float32}, cov::Matrix{Float32}) =
    _new_model(cem_model_create_gaussian, mean, permutedims(cov), length(mean))

Model(path::AbstractString) = _new_model(cem_model_load, path)

dim(m::Model) = Int(cem_model_dim(m))
param_count(m::Model) = Int(cem_model_param_count(m))

"""
    evaluate(m, what, x, t) -> Matrix{Float32}

Target `what` (CEM_TARGET_CEM, _NOISE, _SCORE) at the points x (dim x n)
and times t (one per point, or one number for all: cem_model_eval_at).
"""
function evaluate(m::Model, what::Integer, x::Matrix{Float32}, t::Vector{Float64})
    n = _points(x, dim(m))
    length(t) == n || throw(DimensionMismatch("$(n) points, $(length(t)) times"))
    out = similar(x)
    check(cem_model_eval(m, what, n, x, t, out))
    return out
end

function evaluate(m::Model, what::Integer, x::Matrix{Float32}, t::Real)
    out = similar(x)
    check(cem_model_eval_at(m, what, _points(x, dim(m)), x, t, out))
    return out
end

"""
    params(m; ema=false) -> Vector{Float32}

The MLP's parameters (cem_model_get_params), the raw weights or their
moving average.
"""
function params(m::Model; ema::Bool=false)
    out = Vector{Float32}(undef, param_count(m))
    check(cem_model_get_params(m, ema ? 1 : 0, out, length(out)))
    return out
end

save(m::Model, path::AbstractString) = check(cem_model_save(m, path))

"""
    Dataset(kind, dim; seed=0, options...)

Owner of a cem_dataset_t: `kind` a CEM_DATA_* in R^dim.
"""
mutable struct Dataset
    ptr::Ptr{Cvoid}
    function Dataset(kind::Integer, dim::Integer; seed::Integer=0, options...)
        out = Ref{Ptr{Cvoid}}(C_NULL)
        check(cem_dataset_create(out, kind, dim, seed))
        d = finalizer(_close_dataset, new(out[]))
        for (k, v) in options
            setoption!(d, _option("CEM_DATASET_", k), v)
        end
        return d
    end
end

function _close_dataset(d::Dataset)
    cem_dataset_free(d.ptr)
    d.ptr = C_NULL
    return nothing
end

Base.close(d::Dataset) = _close_dataset(d)
Base.unsafe_convert(::Type{Ptr{Cvoid}}, d::Dataset) = d.ptr
dim(d::Dataset) = Int(cem_dataset_dim(d))

"""
    sample(d::Dataset, n; seed=0) -> Matrix{Float32} (dim x n)
"""
function sample(d::Dataset, n::Integer; seed::Integer=0)
    out = Matrix{Float32}(undef, dim(d), n)
    check(cem_dataset_sample(d, n, seed, out))
    return out
end

"""
    distance(d, x), coordinate(d, x) -> Vector{Float64}

The distance of each point (column) of x to the manifold, and the
intrinsic coordinate of its nearest manifold point.
"""
function distance(d::Dataset, x::Matrix{Float32})
    out = Vector{Float64}(undef, _points(x, dim(d)))
    check(cem_dataset_distance(d, length(out), x, out))
    return out
end

function coordinate(d::Dataset, x::Matrix{Float32})
    out = Vector{Float64}(undef, _points(x, dim(d)))
    check(cem_dataset_coordinate(d, length(out), x, out))
    return out
end

# ------------------------------------------------------------- trainer

# The progress callback's state: the Trainer holds it, the library holds
# its address (Julia's collector does not move objects).
mutable struct _Progress
    fn::Any
    err::Any
end

function _progress(step::Clong, loss::Cdouble, user::Ptr{Cvoid})::Cint
    state = unsafe_pointer_to_objref(user)::_Progress
    try
        return state.fn(step, loss) === true ? Cint(1) : Cint(0)
    catch e
        # Never unwinds into C: kept for train!, and the run stops.
        state.err = e
        return Cint(1)
    end
end

"""
    Trainer(model, data; options...)

Owner of a cem_trainer_t training the MLP `model` on `data` (dim x n,
copied by the library); options are CEM_TRAINER_* in lower case
(batch=256, lr=2e-3, ...).  `model(tr)` is the trained model, valid after
the trainer is gone.
"""
mutable struct Trainer
    ptr::Ptr{Cvoid}
    progress::_Progress
    function Trainer(m::Model, data::Matrix{Float32}; options...)
        n = _points(data, dim(m))
        out = Ref{Ptr{Cvoid}}(C_NULL)
        check(cem_trainer_create(out, m, data, n, size(data, 1)))
        tr = finalizer(_close_trainer, new(out[], _Progress(nothing, nothing)))
        for (k, v) in options
            setoption!(tr, _option("CEM_TRAINER_", k), v)
        end
        return tr
    end
end

function _close_trainer(tr::Trainer)
    cem_trainer_free(tr.ptr)
    tr.ptr = C_NULL
    return nothing
end

Base.close(tr::Trainer) = _close_trainer(tr)
Base.unsafe_convert(::Type{Ptr{Cvoid}}, tr::Trainer) = tr.ptr

"""
    model(tr) -> Model

The model being trained, as a Model of its own reference
(cem_trainer_model, then cem_model_retain): it stays valid after `tr` is
closed or collected.
"""
function model(tr::Trainer)
    p = cem_trainer_model(tr)
    p == C_NULL && throw(ArgumentError("model: the trainer is closed"))
    cem_model_retain(p)
    return Model(p)
end

steps(tr::Trainer) = Int(cem_trainer_steps(tr))

"""
    on_progress!(fn, tr)

Calls fn(step, loss) after every step; returning `true` stops the run; an
exception thrown by fn stops the run and is thrown again by `train!`.
`nothing` removes the callback.
"""
function on_progress!(fn, tr::Trainer)
    if fn === nothing
        check(cem_trainer_set_progress(tr, C_NULL, C_NULL))
        tr.progress.fn = nothing
        return tr
    end
    tr.progress.fn = fn
    cb = @cfunction(_progress, Cint, (Clong, Cdouble, Ptr{Cvoid}))
    check(cem_trainer_set_progress(tr, cb, pointer_from_objref(tr.progress)))
    return tr
end

"""
    train!(tr, steps) -> Float64

Runs `steps` steps (cem_trainer_run); the mean of their losses.  A stop
the progress function asked for (CEM_ERR_STOPPED) is no error.
"""
function train!(tr::Trainer, nsteps::Integer)
    mean = Ref{Cdouble}(NaN)
    tr.progress.err = nothing
    status = GC.@preserve tr cem_trainer_run(tr, nsteps, mean)
    err = tr.progress.err
    if err !== nothing
        tr.progress.err = nothing
        throw(err)
    end
    status == CEM_ERR_STOPPED || check(status)  # a stop fn asked for is no error
    return mean[]
end

# ------------------------------------------------------------- sampler

"""
    Sampler(model; options...)

Owner of a cem_sampler_t on `model` (options CEM_SAMPLER_* in lower case:
steps=100, seed=2, ...).
"""
mutable struct Sampler
    ptr::Ptr{Cvoid}
    dim::Int
    function Sampler(m::Model; options...)
        out = Ref{Ptr{Cvoid}}(C_NULL)
        check(cem_sampler_create(out, m))
        s = finalizer(_close_sampler, new(out[], dim(m)))
        for (k, v) in options
            setoption!(s, _option("CEM_SAMPLER_", k), v)
        end
        return s
    end
end

function _close_sampler(s::Sampler)
    cem_sampler_free(s.ptr)
    s.ptr = C_NULL
    return nothing
end

Base.close(s::Sampler) = _close_sampler(s)
Base.unsafe_convert(::Type{Ptr{Cvoid}}, s::Sampler) = s.ptr

"""
    sample(s::Sampler, n; first=0) -> Matrix{Float32} (dim x n)

Rows first .. first+n-1 of the seed's streams (cem_sampler_run_rows).  When
rows diverge, CemError with status CEM_ERR_DIVERGED.
"""
function sample(s::Sampler, n::Integer; first::Integer=0)
    out = Matrix{Float32}(undef, s.dim, n)
    check(cem_sampler_run_rows(s, first, n, out))
    return out
end

# ------------------------------------------------------------- options

"""
    setoption!(h, opt, value) -> h

Sets option `opt` (a CEM_MODEL_*, CEM_TRAINER_*, CEM_SAMPLER_* or
CEM_DATASET_* constant, as the handle) to `value`; CemError with
CEM_ERR_RANGE outside its bounds.
"""
function setoption! end

"""
    getoption(h, opt) -> Float64
"""
function getoption end

"""
    option_bounds(Model, opt) -> (lo, hi)

The inclusive bounds of an option (also for Trainer, Sampler, Dataset).
"""
function option_bounds end

for (T, fset, fget, fbounds) in (
        (Model, :cem_model_set, :cem_model_get, :cem_model_option_bounds),
        (Trainer, :cem_trainer_set, :cem_trainer_get, :cem_trainer_option_bounds),
        (Sampler, :cem_sampler_set, :cem_sampler_get, :cem_sampler_option_bounds),
        (Dataset, :cem_dataset_set, :cem_dataset_get, :cem_dataset_option_bounds))
    @eval begin
        setoption!(h::$T, opt::Integer, value::Real) = (check($fset(h, opt, value)); h)
        function getoption(h::$T, opt::Integer)
            v = Ref{Cdouble}(0)
            check($fget(h, opt, v))
            return v[]
        end
        function option_bounds(::Type{$T}, opt::Integer)
            lo, hi = Ref{Cdouble}(0), Ref{Cdouble}(0)
            check($fbounds(opt, lo, hi))
            return (lo[], hi[])
        end
    end
end

# ------------------------------------------------------------- metrics

"""
    metric_distance(d, x) -> (mean=, p95=, max=)
"""
function metric_distance(d::Dataset, x::Matrix{Float32})
    mean, p95, mx = Ref{Cdouble}(0), Ref{Cdouble}(0), Ref{Cdouble}(0)
    check(cem_metric_distance(d, _points(x, dim(d)), x, mean, p95, mx))
    return (mean=mean[], p95=p95[], max=mx[])
end

function _pair(a::Matrix{Float32}, b::Matrix{Float32})
    size(a, 1) == size(b, 1) || throw(DimensionMismatch("a and b differ in dim"))
    return size(a, 2), size(b, 2), size(a, 1)
end

"Sliced Wasserstein-2 distance between the columns of a and b."
function metric_sliced_w2(a::Matrix{Float32}, b::Matrix{Float32}; directions::Integer=256,
                          seed::Integer=0)
    na, nb, d = _pair(a, b)
    out = Ref{Cdouble}(0)
    check(cem_metric_sliced_w2(na, a, nb, b, d, directions, seed, out))
    return out[]
end

"Energy distance between the columns of a and b."
function metric_energy(a::Matrix{Float32}, b::Matrix{Float32})
    na, nb, d = _pair(a, b)
    out = Ref{Cdouble}(0)
    check(cem_metric_energy(na, a, nb, b, d, out))
    return out[]
end

"Squared MMD with the Gaussian kernel of `bandwidth`."
function metric_mmd(a::Matrix{Float32}, b::Matrix{Float32}, bandwidth::Real)
    na, nb, d = _pair(a, b)
    out = Ref{Cdouble}(0)
    check(cem_metric_mmd(na, a, nb, b, d, bandwidth, out))
    return out[]
end

"Kolmogorov-Smirnov statistic of the intrinsic coordinates of x."
function metric_ks(d::Dataset, x::Matrix{Float32})
    out = Ref{Cdouble}(0)
    check(cem_metric_ks(d, _points(x, dim(d)), x, out))
    return out[]
end

end # module CemDiff
