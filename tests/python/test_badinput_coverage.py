"""The bad-input table cannot drift from the header: the Check suite badinput
(tests/test_badinput.c), run as tests/badinput_report.py runs it, writes a
row for every function of include/cemdiff.h, in the header's order, and
every status it shows is one the header lists for the function; the
committed docs/RELIABILITY_badinput.md is what a fresh run makes; and the
checks fail on a function without a row (also one just added to the
header), rows out of order, an unlisted status and a stale page."""

import contextlib
import copy
import importlib.util
import io
import os
import re
import shutil
import tempfile
import unittest
from unittest import mock

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TEST_BIN = os.path.join(ROOT, "tests", ".bin", "check_cemdiff")
PAGE = os.path.join(ROOT, "docs", "RELIABILITY_badinput.md")

_spec = importlib.util.spec_from_file_location(
    "badinput_report", os.path.join(ROOT, "tests", "badinput_report.py"))
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


@unittest.skipUnless(os.path.exists(TEST_BIN),
                     "the Check suite is not built (make tests/.bin/check_cemdiff)")
class BadInputTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = report.header_api()
        cls.table = report.run_suite(TEST_BIN)  # the suite passed, or SystemExit
        cls.rows = report.parse_table(cls.table)

    def functions_in_order(self, rows):
        order = []
        for fn, _, _ in rows:
            if not order or order[-1] != fn:
                order.append(fn)
        return order

    def test_every_function_of_the_header_has_rows_in_its_order(self):
        names = [f["name"] for f in self.api["functions"]]
        self.assertGreater(len(names), 80)
        self.assertEqual(self.functions_in_order(self.rows), names)
        self.assertEqual(report.problems(self.api, self.rows), [])

    def test_each_row_says_what_was_tried_and_what_came_back(self):
        seen = set()
        for fn, what, status in self.rows:
            self.assertTrue(what.strip(), fn)
            self.assertNotIn((fn, what), seen, "a call described twice")
            seen.add((fn, what))
            if status.startswith("`CEM_"):
                self.assertRegex(status, r"^`CEM_(OK|ERR_[A-Z_]+)`")
            else:  # a function without a status: its documented answer
                self.assertRegex(status, r"^(returns|no effect|the |released|releases|a new)")
        statuses = {s for _, _, s in self.rows}
        for code in ("ARG", "RANGE", "NONFINITE", "UNSUPPORTED", "NUMERIC", "IO", "PARSE",
                     "BUSY", "NONFINITE_STEP", "BAD_MAGIC", "VERSION", "TRUNCATED",
                     "CHECKSUM", "CORRUPT"):
            self.assertIn(f"`CEM_ERR_{code}`", statuses)

    def test_committed_page_is_current(self):
        with open(PAGE, encoding="utf-8") as f:
            committed = f.read()
        self.assertEqual(committed, report.page(self.table, self.rows),
                         "docs/RELIABILITY_badinput.md is stale: run make reliability")
        m = re.search(r"^(\d+) functions, (\d+) calls\.$", committed, re.M)
        self.assertEqual((int(m.group(1)), int(m.group(2))),
                         (len(self.api["functions"]), len(self.rows)))

    def test_a_function_without_rows_is_reported(self):
        rows = [r for r in self.rows if r[0] != "cem_sampler_times"]
        self.assertIn("cem_sampler_times: no bad call tried (no row in the table)",
                      report.problems(self.api, rows))

    def test_a_function_added_to_the_header_is_reported(self):
        api = copy.deepcopy(self.api)
        new = copy.deepcopy(api["functions"][-1])
        new["name"] = "cem_csv_append"
        api["functions"].append(new)
        self.assertIn("cem_csv_append: no bad call tried (no row in the table)",
                      report.problems(api, self.rows))

    def test_rows_out_of_order_are_reported(self):
        first = [r for r in self.rows if r[0] == "cem_version_number"]
        rest = [r for r in self.rows if r[0] != "cem_version_number"]
        self.assertIn("the table is not in the header's order",
                      report.problems(self.api, rest + first))

    def test_a_status_the_header_does_not_list_is_reported(self):
        rows = [(fn, what, "`CEM_ERR_BUSY`" if fn == "cem_csv_write" and what == "dim 0"
                 else status) for fn, what, status in self.rows]
        self.assertEqual(report.problems(self.api, rows),
                         ["cem_csv_write: returns CEM_ERR_BUSY (dim 0), which the header "
                          "does not list for it"])

    def test_check_mode_fails_on_a_stale_page_with_the_difference(self):
        tmp = tempfile.mkdtemp(prefix="cemdiff-badinput-test-")
        try:
            page = os.path.join(tmp, "page.md")
            shutil.copy(PAGE, page)
            with open(page, encoding="utf-8") as f:
                text = f.read()
            with open(page, "w", encoding="utf-8") as f:
                f.write(text.replace("| `cem_csv_write` | dim 0 | `CEM_ERR_ARG` |",
                                     "| `cem_csv_write` | dim 0 | `CEM_OK` |"))
            out, err = io.StringIO(), io.StringIO()
            with mock.patch.object(report, "run_suite", return_value=self.table), \
                    contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                self.assertEqual(report.main(["bin", "--check", PAGE]), 0)
                self.assertEqual(report.main(["bin", "--check", page]), 1)
            self.assertIn("-| `cem_csv_write` | dim 0 | `CEM_OK` |", out.getvalue())
            self.assertIn("+| `cem_csv_write` | dim 0 | `CEM_ERR_ARG` |", out.getvalue())
            self.assertIn("make reliability", err.getvalue())
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
