#!/usr/bin/python3
"""cemdiff_man.py -- the manual page cemdiff(1), from the tool's own help.

Usage:
  python3 tools/cemdiff_man.py bin/cemdiff > docs/cemdiff.1
  python3 tools/cemdiff_man.py bin/cemdiff --check docs/cemdiff.1

The help texts (`cemdiff --help`, `cemdiff COMMAND --help`) are the one
place the options are written; this script sets them in roff (man(7)).
It reads the layout examples/cemdiff.c prints and nothing else:
  - a usage block ("usage: ..." and its indented continuation lines);
  - paragraphs of text;
  - option blocks: lines "  -x, --long ARG    text" whose text goes on in
    lines indented further, optionally under an unindented heading line
    ("data", "network", ...);
  - at the top level, the "commands" block ("  name   text"), an
    "example" block of command lines, and the exit-status paragraph.
A line it cannot place stops it with exit status 1, so a help text cannot
drift out of the manual silently.  --check exits 1 with a diff when FILE
is not what the tool's help gives now.
"""

import difflib
import re
import subprocess
import sys

OPTION = re.compile(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$")
COMMAND = re.compile(r"^  ([a-z]+)\s{2,}(\S.*)$")


class HelpError(Exception):
    pass


def run(tool, *args):
    p = subprocess.run([tool, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise HelpError(f"{tool} {' '.join(args)} exited with {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def esc(text):
    """Roff-escaped text: backslashes, hyphens of options, leading dots."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w])-", r"\\-", text)
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def blocks(text):
    """The help text as blocks of lines separated by blank lines."""
    out, cur = [], []
    for line in text.rstrip("\n").split("\n"):
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def is_option_block(b):
    body = b[1:] if b[0] and not b[0].startswith(" ") and len(b) > 1 else b
    return bool(OPTION.match(body[0])) and not b[0].startswith("usage:")


def render_usage(b, out):
    out.append(".nf")
    for line in b:
        out.append(esc(line[len("usage: "):] if line.startswith("usage: ") else line))
    out.append(".fi")


def render_options(b, out):
    """An option block: .TP entries, a heading line as a bold paragraph."""
    i = 0
    while i < len(b):
        if not b[i].startswith(" "):  # a heading: "data", "network", ...
            out += [".PP", f".B {esc(b[i])}"]
            i += 1
            continue
        m = OPTION.match(b[i])
        if not m:
            raise HelpError(f"not an option line: {b[i]!r}")
        text = [m.group(2)] if m.group(2) else []
        i += 1
        while i < len(b) and b[i].startswith("      ") and not OPTION.match(b[i]):
            text.append(b[i].strip())
            i += 1
        out += [".TP", f".B {esc(m.group(1))}"]
        out.append(esc(" ".join(text)) if text else "")


def render_paragraph(b, out):
    out += [".PP", esc(" ".join(line.strip() for line in b))]


def render_command(tool, name, summary, out):
    text = run(tool, name, "--help")
    out += [f'.SS "{esc(name)}"', esc(summary[0].upper() + summary[1:]) + "."]
    for b in blocks(text):
        if b[0].startswith("usage:"):
            out.append(".PP")
            render_usage(b, out)
        elif is_option_block(b):
            render_options(b, out)
        elif all(not line.startswith(" ") for line in b):
            render_paragraph(b, out)
        else:
            raise HelpError(f"cemdiff {name} --help: a block it cannot place: {b[0]!r}")


def render(tool):
    top = run(tool, "--help")
    version = run(tool, "--version").strip()
    bs = blocks(top)
    usage, description, commands, examples, status, rest = None, [], [], [], None, []
    for b in bs:
        if b[0].startswith("usage:"):
            usage = b
        elif b[0] == "commands":
            for line in b[1:]:
                m = COMMAND.match(line)
                if not m:
                    raise HelpError(f"cemdiff --help: not a command line: {line!r}")
                commands.append((m.group(1), m.group(2)))
        elif b[0] == "example" or b[0] == "examples":
            examples = [line.strip() for line in b[1:]]
        elif b[0].startswith("Exit status"):
            status = " ".join(line.strip() for line in b)
        elif all(line.startswith("  ") for line in b):
            rest.append(b)  # e.g. "  cemdiff --version"
        elif all(not line.startswith(" ") for line in b):
            description.append(" ".join(b))
        else:
            raise HelpError(f"cemdiff --help: a block it cannot place: {b[0]!r}")
    if not usage or not commands or status is None:
        raise HelpError("cemdiff --help: no usage, command list or exit status")
    name_line = description[0].rstrip(".") if description else "diffusion models"
    out = [
        ".\\\" Generated by tools/cemdiff_man.py from the help of " + esc(version) + "; do not edit.",
        ".\\\" Regenerate: make man",
        f'.TH CEMDIFF 1 "" "{esc(version)}" "User Commands"',
        ".SH NAME",
        "cemdiff \\- " + esc(name_line[0].lower() + name_line[1:]),
        ".SH SYNOPSIS",
    ]
    render_usage(usage, out)
    for b in rest:
        out.append(".br")
        out.append(esc(b[0].strip()))
    out.append(".SH DESCRIPTION")
    for p in description[1:]:
        out += [".PP", esc(p)]
    out += [".PP", "\\fBcemdiff\\fR is the command-line tool of libcemdiff. Its commands:"]
    for name, summary in commands:
        out += [".TP", f".B {esc(name)}", esc(summary)]
    out.append(".SH COMMANDS")
    for name, summary in commands:
        if name == "help":
            continue
        render_command(tool, name, summary, out)
    out += [".SH EXIT STATUS", esc(status[len("Exit status:"):].strip())]
    if examples:
        out += [".SH EXAMPLES", ".nf"] + [esc(e) for e in examples] + [".fi"]
    out += [".SH SEE ALSO",
            "The library's reference is its installed header,",
            ".IR cemdiff.h ;",
            "the source tree's docs/API.md (the same, by handle) and docs/MATH.md (every",
            "formula the tool computes)."]
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--check"):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        text = render(argv[1])
    except HelpError as e:
        sys.stderr.write(f"cemdiff_man: {e}\n")
        return 1
    if len(argv) == 2:
        sys.stdout.write(text)
        return 0
    with open(argv[3], encoding="utf-8") as f:
        old = f.read()
    if old == text:
        return 0
    sys.stderr.write(f"cemdiff_man: {argv[3]} is not the tool's help; run make man\n")
    sys.stderr.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                               argv[3], "generated"))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
