"""docs/RELIABILITY_badinput.md, the bad-input table, from the Check suite
badinput (tests/test_badinput.c).

  badinput_report.py TEST_BIN --out FILE     run the suite and write the page
  badinput_report.py TEST_BIN --check FILE   run it and compare: exit 1, with
                                             a unified diff, when FILE differs

The suite runs alone (CK_RUN_SUITE=badinput) with CEM_BADINPUT_REPORT naming
a temporary file, into which its last test writes the table; the suite must
pass.  Before anything is written or compared, the table must cover every
function of include/cemdiff.h, in the header's order, and every status it
shows must be one the header lists for that function (problems(): each
problem is printed and the exit status is 1).  The page is a short
introduction, the counts and the table.
"""

import difflib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
HEADER = os.path.join(ROOT, "include", "cemdiff.h")


def _api_tool():
    spec = importlib.util.spec_from_file_location(
        "cemdiff_api", os.path.join(ROOT, "tools", "cemdiff_api.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def header_api(path=HEADER):
    """The header as tools/cemdiff_api.py parses it (a dict: functions, ...)."""
    return _api_tool().parse_header(path)


INTRO = """\
# Bad input

Written by the Check suite `badinput` (`tests/test_badinput.c`), which calls every function of
`include/cemdiff.h` with input its contract refuses and in odd orders: `make reliability` rewrites
this page, and `make check` fails when it is stale, when a function has no row, or when a status
shown is not one the header lists for the function. Each call passed only with the status shown (or
the documented answer), `cem_last_error()` naming the function, nothing printed, outputs cleared or
left unwritten as promised, and every handle unchanged: options, parameters, statistics, whether
a trainer or a sampler holds the model, evaluations (each class's too), a trainer's saved bytes and
two training steps (with what its reduce callback, if it has one, was given), a run of samples, a
labelled run and an imputation bitwise those of an untouched twin.
"""


def run_suite(test_bin):
    """The suite's table (markdown), or SystemExit with its output.

    The suite runs in one process (CK_FORK=no: its ~660 cases in about a
    second, where a fork each takes ten); its table is the same either way.
    When that run fails, it runs again with a fork per case, so that the
    output names each case that failed or crashed."""
    with tempfile.TemporaryDirectory(prefix="cemdiff-badinput-report-") as tmp:
        out = os.path.join(tmp, "table.md")
        env = dict(os.environ, CK_RUN_SUITE="badinput", CEM_BADINPUT_REPORT=out, CK_FORK="no")
        env.pop("CK_RUN_CASE", None)
        env.pop("CK_RUN_TEST", None)
        r = subprocess.run([test_bin], env=env, capture_output=True, text=True, timeout=600)
        if r.returncode == 0 and os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                return f.read()
        env["CK_FORK"] = "yes"
        again = subprocess.run([test_bin], env=env, capture_output=True, text=True, timeout=600)
        raise SystemExit(f"badinput_report: the suite failed ({test_bin}, exit {r.returncode}):\n"
                         f"{r.stdout}{r.stderr}\nagain with a fork per case (exit "
                         f"{again.returncode}):\n{again.stdout}{again.stderr}")


ROW = re.compile(r"^\| `(cem_\w+)` \| (.+?) \| (.+) \|$")


def parse_table(text):
    """[(function, what was tried, status returned)] of a table's rows."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| `"):
            m = ROW.match(line)
            if not m:
                raise ValueError(f"not a table row: {line!r}")
            rows.append(m.groups())
    return rows


# Where a function's comment sends the reader for its errors: the shared
# contracts ("same contract as the model's", "as cem_model_save", "those of
# cem_model_eval"), and the documentation of the option enums, which says
# which options only an MLP has (CEM_ERR_UNSUPPORTED) and when the model is
# held (CEM_ERR_BUSY).
INHERITS = {
    "cem_model_eval_at": ["cem_model_eval"],
    "cem_model_eval_labelled": ["cem_model_eval"],
    "cem_model_set": ["enum:cem_model_option"],
    "cem_model_get": ["enum:cem_model_option"],
    "cem_model_set_params": ["cem_model_get_params"],
    "cem_model_get_data_stats": ["cem_model_set_data_stats"],
    "cem_model_get_data_axes": ["cem_model_set_data_cov"],
    "cem_trainer_create_labelled": ["cem_trainer_create"],
    # the run's CEM_ERR_REDUCE is in cem_trainer_set_reduce's comment ("cem_trainer_run
    # then returns CEM_ERR_REDUCE"); cem_trainer_run's own list predates it
    "cem_trainer_run": ["cem_trainer_set_reduce"],
    "cem_trainer_step_batch_labelled": ["cem_trainer_step_batch"],
    "cem_trainer_loss_batch": ["cem_trainer_step_batch"],
    "cem_trainer_loss_batch_labelled": ["cem_trainer_loss_batch",
                                        "cem_trainer_step_batch_labelled"],
    "cem_trainer_time_bins_n": ["cem_trainer_time_bins"],
    "cem_trainer_law_bins_n": ["cem_trainer_law_bins"],
    "cem_trainer_set": ["cem_model_set"],
    "cem_trainer_get": ["cem_model_get"],
    "cem_trainer_option_bounds": ["cem_model_option_bounds"],
    "cem_sampler_run_rows": ["cem_sampler_run"],
    "cem_sampler_run_labelled": ["cem_sampler_run_rows"],
    "cem_sampler_impute": ["cem_sampler_run_labelled"],
    "cem_sampler_set": ["cem_model_set"],
    "cem_sampler_get": ["cem_model_get"],
    "cem_sampler_option_bounds": ["cem_model_option_bounds"],
    "cem_flow_set": ["cem_sampler_set"],
    "cem_flow_get": ["cem_sampler_get"],
    "cem_flow_option_bounds": ["cem_sampler_option_bounds"],
    "cem_model_save_buffer": ["cem_model_save"],
    "cem_model_load_buffer": ["cem_model_load"],
    "cem_trainer_save": ["cem_model_save"],
    "cem_trainer_save_buffer": ["cem_model_save", "cem_model_save_buffer"],
    "cem_trainer_load": ["cem_model_load", "cem_trainer_create"],
    "cem_trainer_load_buffer": ["cem_trainer_load"],
    "cem_trainer_load_labelled": ["cem_trainer_load", "cem_trainer_create_labelled"],
    "cem_trainer_load_buffer_labelled": ["cem_trainer_load_labelled"],
    "cem_dataset_set": ["cem_model_set", "enum:cem_dataset_option"],
    "cem_dataset_get": ["cem_model_get", "enum:cem_dataset_option"],
    "cem_dataset_option_bounds": ["cem_model_option_bounds"],
    "cem_csv_read_labelled": ["cem_csv_read"],
    "cem_csv_read_missing": ["cem_csv_read"],
}


def listed_statuses(api, name, seen=None):
    """The CEM_ERR_* names the header gives for function `name`: in its
    comment, its section's introduction (the checkpoint codes, the metrics'
    CEM_ERR_NONFINITE) and what INHERITS sends to."""
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    funcs = {f["name"]: f for f in api["functions"]}
    enums = {e["name"]: e for e in api["enums"]}
    if name.startswith("enum:"):
        return set(re.findall(r"CEM_ERR_\w+", enums[name[5:]].get("doc", "")))
    f = funcs[name]
    text = f.get("doc", "")
    section = None
    for s in api["sections"]:
        if s["line"] <= f["line"]:
            section = s
    if section:
        text += "\n" + section.get("doc", "")
    found = set(re.findall(r"CEM_ERR_\w+", text))
    for other in INHERITS.get(name, []):
        found |= listed_statuses(api, other, seen)
    return found


def problems(api, rows):
    """What is wrong with a table: functions of the header without a row or
    out of the header's order, rows of functions the header lacks, empty
    cells, and statuses the header does not list for the function."""
    out = []
    names = [f["name"] for f in api["functions"]]
    order = []
    for fn, what, status in rows:
        if not order or order[-1] != fn:
            order.append(fn)
        if not what.strip() or not status.strip():
            out.append(f"{fn}: an empty cell")
        m = re.fullmatch(r"`(CEM_\w+)`", status)
        if m and m.group(1) != "CEM_OK" and fn in names:
            if m.group(1) not in listed_statuses(api, fn):
                out.append(f"{fn}: returns {m.group(1)} ({what}), which the header does not "
                           "list for it")
    for fn in names:
        if fn not in order:
            out.append(f"{fn}: no bad call tried (no row in the table)")
    for fn in order:
        if fn not in names:
            out.append(f"{fn}: in the table, not in the header")
    if len(set(order)) != len(order):
        out.append("the rows of a function are not together")
    elif [n for n in names if n in order] != [n for n in order if n in names]:
        out.append("the table is not in the header's order")
    return out


def page(table, rows):
    """The whole page: introduction, counts, table."""
    nfun = len({fn for fn, _, _ in rows})
    return (f"{INTRO}\n{nfun} functions, {len(rows)} calls.\n\n{table}")


def main(argv):
    if len(argv) != 3 or argv[1] not in ("--out", "--check"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    test_bin, mode, path = argv
    table = run_suite(test_bin)
    rows = parse_table(table)
    bad = problems(header_api(), rows)
    if bad:
        for p in bad:
            print(f"badinput_report: {p}", file=sys.stderr)
        return 1
    text = page(table, rows)
    if mode == "--out":
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return 0
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except OSError as e:
        print(f"badinput_report: cannot read {path}: {e}", file=sys.stderr)
        return 1
    if old == text:
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        old.splitlines(True), text.splitlines(True), path, "fresh run of the badinput suite"))
    print(f"badinput_report: {path} is stale: run make reliability", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
