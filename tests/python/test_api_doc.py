"""docs/API.md: the committed page is what tools/cemdiff_api.py --markdown
prints, the check fails on a stale page, every function of the header is
there exactly once (an ungrouped one under "Other"), and the quick starts
of tools/api_quickstart.md run: the C and C++ programs compile against the
build tree and run, the Python one runs (each with a few training steps),
and the Julia one calls only what julia/CemDiff.jl defines."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOOL = os.path.join(ROOT, "tools", "cemdiff_api.py")
PAGE = os.path.join(ROOT, "docs", "API.md")
QUICKSTART = os.path.join(ROOT, "tools", "api_quickstart.md")
LIB = os.path.join(ROOT, "lib", "libcemdiff.so")


def tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


api_tool = load("cemdiff_api")
markdown = load("cemdiff_markdown")


def snippet(lang):
    """The one ```lang block of the quick-start template."""
    with open(QUICKSTART, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(rf"^```{re.escape(lang)}\n(.*?)^```$", text, re.M | re.S)
    assert len(blocks) == 1, f"{len(blocks)} ```{lang} blocks in the quick start"
    return blocks[0]


def few_steps(code, steps=20):
    """The program with its `nsteps = 3000` lowered to `steps`."""
    assert code.count("nsteps = 3000") == 1, "the program sets nsteps = 3000 once"
    return code.replace("nsteps = 3000", f"nsteps = {steps}")


class Page(unittest.TestCase):
    def test_committed_page_is_current(self):
        r = tool("include/cemdiff.h", "--check-markdown", "docs/API.md")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_check_mode_reports_a_difference(self):
        with open(PAGE, encoding="utf-8") as f:
            text = f.read()
        old = "CEM_API int cem_trainer_run(cem_trainer_t *tr, long steps, double *mean_loss);"
        self.assertEqual(text.count(old), 1)
        with tempfile.TemporaryDirectory() as tmp:
            stale = os.path.join(tmp, "API.md")
            with open(stale, "w", encoding="utf-8") as f:
                f.write(text.replace(old, old.replace("long steps", "int steps")))
            r = tool("include/cemdiff.h", "--check-markdown", stale)
            self.assertEqual(r.returncode, 1)
            self.assertIn("-" + old.replace("long steps", "int steps"), r.stdout)
            self.assertIn("+" + old, r.stdout)
            self.assertIn("--markdown >", r.stderr)
            # a page missing its last line is stale too
            with open(stale, "w", encoding="utf-8") as f:
                f.write(text[:text.rstrip("\n").rfind("\n") + 1])
            self.assertEqual(tool("include/cemdiff.h", "--check-markdown", stale).returncode, 1)

    def test_every_function_exactly_once(self):
        with open(PAGE, encoding="utf-8") as f:
            text = f.read()
        api = api_tool.parse_header(os.path.join(ROOT, "include", "cemdiff.h"))
        # prototypes: the lines of ```c blocks outside the quick start
        ref = text[text.index('<a id="conventions"></a>'):]
        code = "\n".join(re.findall(r"^```c\n(.*?)^```$", ref, re.M | re.S))
        declared = re.findall(r"^CEM_API [^;(]*?\b(cem_\w+)\(", code, re.M)
        self.assertEqual(sorted(declared), sorted(f["name"] for f in api["functions"]))
        for f in api["functions"]:
            self.assertEqual(text.count(f'<a id="{f["name"]}"></a>'), 1, f["name"])
            self.assertIn(f"(#{f['name']})", text.split('<a id="quick-start">')[0],
                          f"{f['name']} is not in the contents")
        for e in api["enums"]:
            for m in e["members"]:
                self.assertRegex(ref, rf"\| `{m['name']}` \| {m['value']} \|")
        self.assertNotIn('<a id="other"></a>', text)  # every function has its group

    def test_ungrouped_function_lands_in_other(self):
        header = ("#ifndef H\n#define H\n#define CEM_API\n"
                  "/* -------- things */\n\n"
                  "typedef struct cem_widget cem_widget_t;\n\n"
                  "/* Spins w.  Errors: CEM_ERR_ARG. */\n"
                  "CEM_API int cem_widget_spin(cem_widget_t *w, double rate);\n\n"
                  "/* The version. */\n"
                  "CEM_API unsigned cem_version_number(void);\n"
                  "#endif\n")
        with tempfile.TemporaryDirectory() as tmp:
            os.mkdir(os.path.join(tmp, "include"))
            h = os.path.join(tmp, "include", "h.h")
            with open(h, "w") as f:
                f.write(header)
            api = api_tool.parse_header(h)
        text = markdown.render_markdown(api, "No quick start.\n")
        other = text[text.index('## <a id="other"></a>Other'):]
        self.assertIn("CEM_API int cem_widget_spin(cem_widget_t *w, double rate);", other)
        self.assertIn("typedef struct cem_widget cem_widget_t;", other)
        self.assertIn("Spins w.", other)
        self.assertEqual(text.count("cem_widget_spin(cem_widget_t"), 1)
        self.assertEqual(markdown.group_of_function("cem_version_number"), "version-and-errors")
        self.assertEqual(markdown.group_of_function("cem_free"), "version-and-errors")
        self.assertEqual(markdown.group_of_function("cem_freeze"), "other")
        self.assertEqual(markdown.group_of_function("cem_singularity_profile"), "metrics")

    def test_output_is_deterministic(self):
        outs = set()
        for seed in ("0", "1", "12345"):
            r = subprocess.run([sys.executable, TOOL, "include/cemdiff.h", "--markdown"],
                               cwd=ROOT, capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, PYTHONHASHSEED=seed))
            self.assertEqual(r.returncode, 0, r.stderr)
            outs.add(r.stdout)
        self.assertEqual(len(outs), 1)

    def test_quickstart_names_only_declared_things(self):
        api = api_tool.parse_header(os.path.join(ROOT, "include", "cemdiff.h"))
        with self.assertRaisesRegex(markdown.QuickstartError, "cem_model_frobnicate"):
            markdown.render_markdown(api, "Call `cem_model_frobnicate(m)`.\n")
        with self.assertRaisesRegex(markdown.QuickstartError, "CEM_MODEL_COLOUR"):
            markdown.render_markdown(api, "```c\ncem_model_set(m, CEM_MODEL_COLOUR, 1);\n```\n")
        with self.assertRaisesRegex(markdown.QuickstartError, "heading above level 3"):
            markdown.render_markdown(api, "## A second page\n")


@unittest.skipUnless(os.path.exists(LIB), "the library is not built (make all)")
class QuickStart(unittest.TestCase):
    """The programs of the quick start, each with 20 training steps; the C,
    C++ and Python ones print the same numbers, as the page says."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def compile_and_run(self, lang, compiler, flags, ext):
        path = os.path.join(self.tmp, "quickstart" + ext)
        with open(path, "w") as f:
            f.write(few_steps(snippet(lang)))
        exe = os.path.join(self.tmp, "quickstart_" + lang)
        cc = subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror",
                             "-I" + os.path.join(ROOT, "include"), path, "-o", exe,
                             "-L" + os.path.join(ROOT, "lib"), "-lcemdiff",
                             "-Wl,-rpath," + os.path.join(ROOT, "lib"), "-lm"],
                            capture_output=True, text=True, timeout=300)
        self.assertEqual(cc.returncode, 0, cc.stderr)
        r = subprocess.run([exe], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def run_python(self):
        path = os.path.join(self.tmp, "quickstart.py")
        with open(path, "w") as f:
            f.write(few_steps(snippet("python")))
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        env.pop("CEMDIFF_LIBRARY", None)
        r = subprocess.run([sys.executable, path], capture_output=True, text=True,
                           timeout=300, env=env, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_c_cpp_python(self):
        outputs = {}
        runs = [("python", self.run_python)]
        if shutil.which("cc"):
            runs.append(("c", lambda: self.compile_and_run("c", "cc", ["-std=c11"], ".c")))
        if shutil.which("g++"):
            runs.append(("cpp", lambda: self.compile_and_run("cpp", "g++", ["-std=c++17"],
                                                             ".cpp")))
        for lang, run in runs:
            with self.subTest(lang):
                out = run()
                self.assertRegex(out, r"^trained 20 steps, mean loss \d")
                self.assertIn("distance to the circle: mean ", out)
                outputs[lang] = out
        # the same calls with the same seeds: the same numbers
        self.assertEqual(len(set(outputs.values())), 1, outputs)

    def test_julia_names(self):
        """Julia is not installed here: the program may call only functions
        CemDiff.jl defines (or Base's include, println, close), name only
        the header's constants, and pass as keyword options only names
        that are CEM_<HANDLE>_* options of the header."""
        code = snippet("julia")
        with open(os.path.join(ROOT, "julia", "CemDiff.jl")) as f:
            module = f.read()
        exported = set()
        for m in re.finditer(r"^export (.*?)(?=\n\S|\Z)", module, re.M | re.S):
            exported |= set(re.findall(r"[A-Za-z_][A-Za-z_0-9!]*", m.group(1)))
        self.assertIn("train!", exported)
        api = api_tool.parse_header(os.path.join(ROOT, "include", "cemdiff.h"))
        constants = {c["name"] for c in api["constants"]}
        constants |= {m["name"] for e in api["enums"] for m in e["members"]}
        body = re.sub(r"#.*", "", re.sub(r'"(?:[^"\\]|\\.)*"', '""', code))
        called = set(re.findall(r"\b([A-Za-z_][A-Za-z_0-9!]*)\(", body))
        self.assertEqual(sorted(called - exported - {"include", "println", "close"}), [])
        for name in re.findall(r"\bCEM_\w+", body):
            self.assertTrue(name in constants, f"{name} is not a constant of the header")
        handles = {"Model": "CEM_MODEL_", "Trainer": "CEM_TRAINER_", "Sampler": "CEM_SAMPLER_",
                   "Dataset": "CEM_DATASET_"}
        for ctor, args in re.findall(r"\b(Model|Trainer|Sampler|Dataset)\(([^)]*)\)", body):
            if ";" in args:
                for key in re.findall(r"(\w+)=", args.split(";", 1)[1]):
                    if ctor == "Dataset" and key == "seed":
                        continue  # Dataset's own keyword: the embedding's seed
                    option = handles[ctor] + key.upper()
                    self.assertTrue(option in constants, f"{ctor}({key}=...): no {option}")
        self.assertIn("using .CemDiff", code)


if __name__ == "__main__":
    unittest.main()
