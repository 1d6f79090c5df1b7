"""tools/cemdiff_api.py: the committed _api.py is what the header gives, and
the parser stops on what it cannot read."""

import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

from common import ROOT, cemdiff

TOOL = os.path.join(ROOT, "tools", "cemdiff_api.py")
HEADER = os.path.join(ROOT, "include", "cemdiff.h")
API = os.path.join(ROOT, "python", "cemdiff", "_api.py")


def tool(*args, cwd=ROOT):
    return subprocess.run([sys.executable, TOOL, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def api_docs():
    """{function name: the comment above it in the header}."""
    r = tool("include/cemdiff.h", "--json")
    assert r.returncode == 0, r.stderr
    return {f["name"]: f["doc"] for f in json.loads(r.stdout)["functions"]}


class Generator(unittest.TestCase):
    def test_committed_module_is_current(self):
        r = tool("include/cemdiff.h", "--check-python", "python/cemdiff/_api.py")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_check_mode_reports_a_difference(self):
        with open(API) as f:
            text = f.read()
        with tempfile.TemporaryDirectory() as tmp:
            stale = os.path.join(tmp, "_api.py")
            with open(stale, "w") as f:
                f.write(text.replace("CEM_TRAINER_LAW_BINS = 16", "CEM_TRAINER_LAW_BINS = 15"))
            r = tool("include/cemdiff.h", "--check-python", stale)
        self.assertEqual(r.returncode, 1)
        self.assertIn("-CEM_TRAINER_LAW_BINS = 15", r.stdout)
        self.assertIn("+CEM_TRAINER_LAW_BINS = 16", r.stdout)

    def test_julia_check_mode(self):
        r = tool("include/cemdiff.h", "--check-julia", "julia/gen_api.jl")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(ROOT, "julia", "gen_api.jl")) as f:
            text = f.read()
        with tempfile.TemporaryDirectory() as tmp:
            stale = os.path.join(tmp, "gen_api.jl")
            with open(stale, "w") as f:
                f.write(text.replace("const CEM_ERR_DIVERGED = Cint(-16)",
                                     "const CEM_ERR_DIVERGED = Cint(-17)"))
            r = tool("include/cemdiff.h", "--check-julia", stale)
        self.assertEqual(r.returncode, 1)
        self.assertIn("+const CEM_ERR_DIVERGED = Cint(-16)", r.stdout)
        self.assertIn("--julia >", r.stderr)

    def test_json_describes_every_declaration(self):
        r = tool("include/cemdiff.h", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        api = json.loads(r.stdout)
        with open(HEADER) as f:
            header = f.read()
        declared = re.findall(r"^CEM_API\s[^;]*?\b(cem_\w+)\s*\(", header, re.M)
        self.assertEqual([f["name"] for f in api["functions"]], declared)
        self.assertEqual(set(declared), set(cemdiff._api.FUNCTIONS))
        consts = {c["name"]: c["value"] for c in api["constants"]}
        self.assertEqual(consts["CEM_TRAINER_LAW_BINS"], 16)
        self.assertEqual(consts["CEM_VERSION_NUMBER"],
                         consts["CEM_VERSION_MAJOR"] * 10000 + consts["CEM_VERSION_MINOR"] * 100
                         + consts["CEM_VERSION_PATCH"])
        enums = {e["name"]: e for e in api["enums"]}
        self.assertEqual([(m["name"], m["value"]) for m in enums["cem_target"]["members"]],
                         [("CEM_TARGET_CEM", 0), ("CEM_TARGET_NOISE", 1), ("CEM_TARGET_SCORE", 2)])
        status = enums[None]["members"]
        self.assertIn(("CEM_ERR_CORRUPT", -15), [(m["name"], m["value"]) for m in status])
        self.assertIn("outside its bounds",
                      next(m["doc"] for m in status if m["name"] == "CEM_ERR_RANGE"))
        run = next(f for f in api["functions"] if f["name"] == "cem_trainer_run")
        self.assertIn("Runs `steps` optimisation steps", run["doc"])
        self.assertEqual([(p["name"], p["type"]["c"]) for p in run["params"]],
                         [("tr", "cem_trainer_t *"), ("steps", "long"),
                          ("mean_loss", "double *")])
        getter = next(f for f in api["functions"] if f["name"] == "cem_model_get_data_stats")
        self.assertIn("The centre mu", getter["doc"])  # shares its setter's comment

    def test_unsigned_char_is_a_byte_array(self):
        """cem_sampler_impute's mask: a pointer to unsigned char is an array
        of bytes in both bindings (ctypes c_ubyte, Julia Cuchar), never a
        string; the parser once stopped on it and left _api.py empty."""
        params = dict(cemdiff._api.FUNCTIONS["cem_sampler_impute"][1])
        self.assertIs(params["known"], ctypes.POINTER(ctypes.c_ubyte))
        with open(os.path.join(ROOT, "julia", "gen_api.jl")) as f:
            self.assertIn("Ptr{Cfloat}, Ptr{Cuchar}, Ptr{Cint}, Ptr{Cfloat}),", f.read())

    def test_reduce_callback_has_every_argument(self):
        """cem_reduce_fn, a callback of pointers, sizes and ints: the ctypes
        prototype and the Julia @cfunction comment list its seven
        arguments in the header's order."""
        cb = cemdiff._api.cem_reduce_fn
        self.assertIs(cb._restype_, ctypes.c_int)
        self.assertEqual(cb._argtypes_, (ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_double), ctypes.c_size_t,
                                         ctypes.c_int, ctypes.c_int, ctypes.c_void_p))
        params = dict(cemdiff._api.FUNCTIONS["cem_trainer_set_reduce"][1])
        self.assertIs(params["fn"], cb)
        with open(os.path.join(ROOT, "julia", "gen_api.jl")) as f:
            self.assertIn("# @cfunction(f, Cint, (Ptr{Cfloat}, Csize_t, Ptr{Cdouble}, Csize_t, "
                          "Cint, Cint, Ptr{Cvoid}))\nconst cem_reduce_fn = Ptr{Cvoid}", f.read())

    def test_unknown_constructs_fail_with_their_line(self):
        bad = {
            "CEM_API int cem_x(int a[]);": "unsupported parameter",
            "CEM_API int cem_y(struct foo *p);": "unknown type",
            "typedef enum { CEM_A, CEM_B } cem_e;": "explicit value",
            "#define CEM_NAME \"text\"": "not an integer expression",
            "#pragma once": "unknown preprocessor directive",
            "CEM_API int cem_z(float);": "without a name",
            "int helper(void);": "unknown declaration",
            "CEM_API int cem_f(int (*cb)(int), void *u);": "unknown declaration",
            "CEM_API unsigned long long cem_q(void);": "unsupported type",
        }
        with tempfile.TemporaryDirectory() as tmp:
            os.mkdir(os.path.join(tmp, "include"))
            h = os.path.join(tmp, "include", "h.h")
            for decl, why in bad.items():
                with open(h, "w") as f:
                    f.write("#ifndef H\n#define H\n#define CEM_API\n"
                            "CEM_API int cem_ok(void);\n" + decl + "\n#endif\n")
                r = tool(h, "--json")
                self.assertEqual(r.returncode, 1, decl)
                self.assertIn("include/h.h:5:", r.stderr, decl)
                self.assertIn(why, r.stderr, decl)


class Coverage(unittest.TestCase):
    def test_package_calls_every_function(self):
        """Every function of the header is reached by the package."""
        pkg = os.path.join(ROOT, "python", "cemdiff")
        text = ""
        for name in os.listdir(pkg):
            if name.endswith(".py") and name != "_api.py":
                with open(os.path.join(pkg, name)) as f:
                    text += f.read()
        used = set(re.findall(r"\bcem_\w+", text))
        for cls in (cemdiff.Model, cemdiff.Trainer, cemdiff.Sampler, cemdiff.Flow, cemdiff.Dataset):
            used |= {cls._SET.__name__, cls._GET.__name__, cls._BOUNDS.__name__}
        # a function the header calls superseded is reached through its successor
        superseded = {f for f, d in api_docs().items() if re.search(r"[Ss]uperseded by", d)}
        missing = sorted(set(cemdiff._api.FUNCTIONS) - used - superseded)
        self.assertEqual(missing, [])
        self.assertEqual(sorted(superseded), ["cem_trainer_law_bins", "cem_trainer_time_bins"])


if __name__ == "__main__":
    unittest.main()
