"""cemdiff: Python bindings of libcemdiff (include/cemdiff.h) through ctypes.

    import numpy as np, cemdiff
    data = cemdiff.Dataset("circle", 2).sample(512)
    with cemdiff.Model(2, "cem", width=32, depth=2) as model:
        with cemdiff.Trainer(model, data, batch=128) as tr:
            tr.run(200)
        x = cemdiff.Sampler(model, steps=50).run(1000)

Classes Model, Trainer, Sampler, Flow, Dataset own library handles
(released by close(), `with`, or garbage collection); their options are
keyword arguments and properties named after the header's option enums in
lower case (CEM_TRAINER_LR -> lr; CEM_SAMPLER_IMPUTE is impute_method).
Conditional models take labels: Model.empirical(x, labels=y),
Model.mixture(means, covs), Trainer(model, x, labels=y),
model.eval(..., labels=k), sampler.run(n, labels=k) with .guidance;
sampler.impute(x) completes partial points (NaN or a mask marks what is
missing).  Failures raise cemdiff.Error subclasses, one per CEM_ERR_*
status (ArgumentError, RangeError, BusyError, ...), with the library's
message.  Arrays are numpy: points float32 (n, dim), times float64,
labels int32 (np.intc; one int also serves every row), masks bool or
uint8, C-contiguous; anything else raises ValueError before the library
is called.  The constants and IntEnums of the header are in cemdiff._api
(generated from the header) and re-exported here.

The library is found as cemdiff._lib describes (CEMDIFF_LIBRARY first);
cemdiff.library_path says which file was loaded.
"""

from . import _api, errors
from ._lib import path as library_path
from .dataset import Dataset
from .flow import Flow
from .errors import *  # noqa: F401,F403 -- Error and one class per CEM_ERR_* status
from .functions import (convert, csv_read, csv_read_missing, csv_write, grid_name,
                        integrator_name, last_error, metric_distance, metric_energy, metric_ks,
                        metric_mmd, metric_sliced_w2, ou_coefficients, status_string, time_grid,
                        time_law_sample, version_number, version_string)
from .model import Model, SingularityProfile
from .sampler import Sampler
from .trainer import LawBins, TimeBins, Trainer

__version__ = version_string()

# The label that asks a model for its unconditional answer (CEM_LABEL_NONE).
LABEL_NONE = _api.CEM_LABEL_NONE

# Every IntEnum of the header: Target, TimeLaw, ModelOption, Impute, ...
globals().update({cls.__name__: cls for cls in _api.ENUMS.values()})

__all__ = (["LABEL_NONE", "Model", "Trainer", "Sampler", "Flow", "Dataset", "SingularityProfile",
            "TimeBins", "LawBins", "library_path", "convert", "csv_read", "csv_read_missing",
            "csv_write", "grid_name", "integrator_name", "last_error",
            "metric_distance", "metric_energy", "metric_ks", "metric_mmd", "metric_sliced_w2",
            "ou_coefficients", "status_string", "time_grid", "time_law_sample",
            "version_number", "version_string"]
           + [cls.__name__ for cls in _api.ENUMS.values()] + errors.__all__)
