"""cemdiff_markdown.py -- the text of docs/API.md from the API that
tools/cemdiff_api.py parses (`cemdiff_api.py HEADER --markdown`).

docs/API.md is the reference of every public declaration of the header,
grouped by the handle or concern its name belongs to (GROUPS: a function
goes to the group with the longest matching name prefix; one that matches
none goes to "Other", so nothing is ever dropped), in the header's order
within a group.  Each entry is the header's comment (once for a group of
declarations that share one comment) above the declarations as written (a
function's prototype, re-wrapped at 80 columns; a constant's or macro's
#define; an enum's members and values as a table).  Types, constants and
macros go to the group their name prefix names, else to that of the
next function the header declares after them.  The header's opening
comment is the "Conventions" section, and each header section's
introduction (the comment after its `/* ---- title` rule) opens the
part of a group it documents.

The quick starts are hand-written (tools/api_quickstart.md) and included
verbatim after a check that every cem_* / CEM_* name in them is declared by
the header.  The output depends on nothing but the header and that file.
"""

import re

# (anchor, title, name prefixes).  A prefix ending in "_" matches every
# name that starts with it, any other prefix only that exact name.
GROUPS = [
    ("version-and-errors", "Version and errors",
     ("cem_version_", "cem_status_", "cem_last_error", "cem_free")),
    ("model", "Model", ("cem_model_",)),
    ("trainer", "Trainer", ("cem_trainer_",)),
    ("sampler", "Sampler", ("cem_sampler_", "cem_integrator", "cem_integrator_name")),
    ("flow", "Probability flow (likelihood, encoder)", ("cem_flow_",)),
    ("dataset", "Dataset", ("cem_dataset_",)),
    ("metrics", "Metrics", ("cem_metric_", "cem_singularity_profile")),
    ("process", "Forward process, time grids and conversion",
     ("cem_ou_", "cem_convert", "cem_time_", "cem_grid", "cem_grid_name")),
    ("csv", "CSV files", ("cem_csv_",)),
]
OTHER = ("other", "Other", ())

WIDTH = 80  # prototypes are wrapped to this many columns, as in the header


class QuickstartError(Exception):
    """The quick-start template names something the header does not declare,
    or breaks the page's structure."""


# ------------------------------------------------------------- grouping

def _prefix_match(name, prefixes, exact=True):
    """Length of the longest prefix of `prefixes` matching `name` (0: none);
    exact names count only when `exact`."""
    best = 0
    for p in prefixes:
        if p.endswith("_") and name.startswith(p) or exact and name == p:
            best = max(best, len(p))
    return best


def group_of_function(name, groups=GROUPS):
    """The anchor of the group of function `name` ("other" when no prefix
    matches)."""
    best, anchor = 0, OTHER[0]
    for g_anchor, _, prefixes in groups:
        k = _prefix_match(name, prefixes)
        if k > best:
            best, anchor = k, g_anchor
    return anchor


def _entries(api):
    """Every declaration as an entry {kind, name, line, doc, item}, in the
    header's order."""
    out = []
    for c in api["constants"]:
        out.append({"kind": "constant", "name": c["name"], "line": c["line"],
                    "doc": c["doc"], "item": c})
    for m in api.get("macros", []):
        out.append({"kind": "macro", "name": m["name"], "line": m["line"],
                    "doc": m["doc"], "item": m})
    for e in api["enums"]:
        name = e["name"] or e["members"][0]["name"]
        out.append({"kind": "enum", "name": name, "line": e["line"], "doc": e["doc"],
                    "item": e})
    for s in api["structs"]:
        out.append({"kind": "struct", "name": s["name"], "line": s["line"],
                    "doc": s["doc"], "item": s})
    for cb in api["callbacks"]:
        out.append({"kind": "callback", "name": cb["name"], "line": cb["line"],
                    "doc": cb["doc"], "item": cb})
    for f in api["functions"]:
        out.append({"kind": "function", "name": f["name"], "line": f["line"],
                    "doc": f["doc"], "item": f})
    out.sort(key=lambda e: (e["line"], e["name"]))
    return out


def assign_groups(api, groups=GROUPS, entries=None):
    """{group anchor: [entries in header order]}: functions by name prefix,
    other declarations by name prefix (lower case, exact names aside), else
    with the next function the header declares.  `entries`: _entries(api)."""
    entries = _entries(api) if entries is None else entries
    result = {g[0]: [] for g in groups}
    result[OTHER[0]] = []
    next_group = OTHER[0]
    # walk backwards so that each declaration knows the next function's group
    assigned = []
    for e in reversed(entries):
        if e["kind"] == "function":
            g = group_of_function(e["name"], groups)
            next_group = g
        else:
            best, g = 0, None
            for g_anchor, _, prefixes in groups:
                k = _prefix_match(e["name"].lower(), prefixes, exact=False)
                if k > best:
                    best, g = k, g_anchor
            g = g or next_group
        assigned.append((e, g))
    for e, g in reversed(assigned):
        result[g].append(e)
    return result


# ------------------------------------------------------------- C text

def _param_text(p):
    c = p["type"]["c"]
    return c + p["name"] if c.endswith("*") else f"{c} {p['name']}"


def wrap_call(head, params, tail, width=WIDTH):
    """`head(p1, p2, ...)tail` in lines of at most `width` columns where
    possible, continuation lines aligned after the parenthesis."""
    one = f"{head}({', '.join(params)}){tail}"
    if len(one) <= width or not params:
        return one
    indent = " " * (len(head) + 1)
    pieces = [p + "," for p in params[:-1]] + [params[-1] + ")" + tail]
    lines, cur = [], head + "(" + pieces[0]
    for piece in pieces[1:]:
        if len(cur) + 1 + len(piece) <= width:
            cur += " " + piece
        else:
            lines.append(cur)
            cur = indent + piece
    lines.append(cur)
    return "\n".join(lines)


def prototype(f):
    """The function's declaration as written (the parser's one-line text),
    wrapped at WIDTH columns."""
    flat = f["prototype"]
    m = re.fullmatch(r"(.*?\b\w+)\s*\((.*)\)\s*;", flat)
    args = m.group(2).strip()
    params = [] if args == "void" else [a.strip() for a in args.split(",")]
    if not params:
        return flat
    return wrap_call(m.group(1), params, ";")


def callback_decl(cb):
    ret = cb["returns"]["c"]
    sep = "" if ret.endswith("*") else " "
    return wrap_call(f"typedef {ret}{sep}(*{cb['name']})",
                     [_param_text(p) for p in cb["params"]] or ["void"], ";")


def constant_decl(c):
    text = f"#define {c['name']} {c['expr']}"
    if c["expr"].strip() != str(c["value"]):
        text += f"  /* = {c['value']} */"
    return text


def macro_decl(m):
    head = f"#define {m['name']}({', '.join(m['params'])})"
    one = f"{head} {m['body']}"
    return one if len(one) <= WIDTH else f"{head} \\\n    {m['body']}"


def struct_decl(s):
    return f"typedef struct {s['tag']} {s['name']};"


# ------------------------------------------------------------- prose

class _Names:
    """The header's names and the anchors they link to."""

    def __init__(self, api, groups):
        self.anchor = {}   # name -> anchor id of its entry
        self.members = {}  # enum member -> anchor of its enum
        for entries in groups.values():
            for e in entries:
                self.anchor[e["name"]] = e["name"]
                if e["kind"] == "enum":
                    for m in e["item"]["members"]:
                        self.members[m["name"]] = e["name"]
        self.known = set(self.anchor) | set(self.members) | {"CEM_API"}

    def link(self, name, here):
        """Markdown for an identifier of the header: a code span, linked
        to its entry unless that is the entry being written (enum members
        are not linked: their enum is usually named nearby, and the status
        codes would link everywhere)."""
        target = self.anchor.get(name)
        if target is None or target in here:
            return f"`{name}`"
        return f"[`{name}`](#{target})"


_IDENT = re.compile(r"\b(cem_\w+|CEM_\w+)(\(\))?")


def _escape(text, backticks=False):
    """Markdown-escapes plain text (outside code spans); backticks too when
    they do not pair up into code spans."""
    out = []
    n = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else " "
        nxt = text[i + 1] if i + 1 < n else " "
        if ch in "\\*~$" or ch == "`" and backticks:
            out.append("\\" + ch)
        elif ch == "_" and not (prev.isalnum() and nxt.isalnum()):
            out.append("\\_")
        elif ch == "<" and (nxt.isalpha() or nxt in "/!?"):
            out.append("\\<")
        elif ch == "&" and (nxt.isalnum() or nxt == "#"):
            out.append("\\&")
        elif ch == "]" and nxt == "(":
            out.append("\\]")
        else:
            out.append(ch)
    return "".join(out)


def _inline(text, names, here):
    """A paragraph's text as Markdown: `code` spans kept, the header's names
    as linked code spans, everything else escaped; line starts that
    Markdown would read as block syntax are escaped."""
    odd = text.count("`") % 2 == 1
    pieces = [text] if odd else re.split(r"(`[^`]*`)", text)
    out = []
    for k, piece in enumerate(pieces):
        if k % 2 == 1 and len(pieces) > 1:
            out.append(piece)
            continue
        pos, buf = 0, []
        for m in _IDENT.finditer(piece):
            if m.group(1) not in names.known:
                continue
            buf.append(_escape(piece[pos:m.start()], odd))
            name = m.group(1)
            link = names.link(name, here)
            if m.group(2):
                link = link.replace(f"`{name}`", f"`{name}()`", 1)
            buf.append(link)
            pos = m.end()
        buf.append(_escape(piece[pos:], odd))
        out.append("".join(buf))
    lines = "".join(out).split("\n")
    fixed = []
    for ln in lines:
        if re.match(r"[#>+=-]", ln):
            ln = "\\" + ln
        ln = re.sub(r"^(\d+)([.)])(?=\s|$)", r"\1\\\2", ln)
        fixed.append(ln)
    return "\n".join(fixed)


def _fence(lines):
    text = "\n".join(lines)
    fence = "```" if "```" not in text else "~~~~"
    return [fence + "text", text, fence]


def render_doc(doc, names, here=()):
    """A header comment as Markdown lines: prose paragraphs, "- " bullets
    (with their indented continuation lines) as a list, a line underlined
    with ---- as bold, and any other run of indented lines (tables of
    options, formulas, code) as a preformatted block, alignment kept."""
    lines = doc.split("\n")
    out, para, i = [], [], 0

    def flush():
        if para:
            out.append(_inline("\n".join(para), names, here))
            out.append("")
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if not ln.strip():
            flush()
            i += 1
        elif i + 1 < len(lines) and re.fullmatch(r"\s*(-{3,}|={3,})\s*", lines[i + 1]) \
                and not ln.startswith(" "):
            flush()
            out += ["**" + _inline(ln.strip(), names, here) + "**", ""]
            i += 2
        elif ln.startswith("- "):
            flush()
            while i < len(lines) and lines[i].startswith("- "):
                item = [lines[i][2:]]
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                    item.append(lines[i].strip())
                    i += 1
                text = _inline("\n".join(item), names, here).replace("\n", "\n  ")
                out.append("- " + text)
            out.append("")
        elif ln.startswith(" "):
            flush()
            block = []
            while i < len(lines) and (lines[i].startswith(" ") or
                                      (not lines[i].strip() and i + 1 < len(lines)
                                       and lines[i + 1].startswith(" "))):
                block.append(lines[i])
                i += 1
            pad = min(len(b) - len(b.lstrip()) for b in block if b.strip())
            out += _fence([b[pad:] for b in block]) + [""]
        else:
            para.append(ln)
            i += 1
    flush()
    while out and out[-1] == "":
        out.pop()
    return out


# ------------------------------------------------------------- entries

def _blocks(entries, all_entries):
    """Entries split into blocks: neighbours in the header that share one
    non-empty comment form one block."""
    index = {id(e): k for k, e in enumerate(all_entries)}
    blocks = []
    for e in entries:
        last = blocks[-1][-1] if blocks else None
        if last is not None and e["doc"] and e["doc"] == last["doc"] \
                and index[id(e)] == index[id(last)] + 1:
            blocks[-1].append(e)
        else:
            blocks.append([e])
    return blocks


_KIND_WORD = {"constant": "constants", "macro": "macro", "enum": "enum",
              "struct": "handle", "callback": "callback"}


def _enum_title(e):
    if e["name"]:
        return f"`{e['name']}`"
    ms = e["members"]
    return f"`{ms[0]['name']}` ... `{ms[-1]['name']}` (anonymous)"


def _cell(text, names, here):
    return _inline(" ".join(text.split()), names, here).replace("|", "\\|")


def render_enum(e, names, here):
    out = []
    with_doc = any(m["doc"] for m in e["members"])
    out += ["| member | value |" + (" meaning |" if with_doc else ""),
            "|---|---:|" + ("---|" if with_doc else "")]
    for m in e["members"]:
        row = f"| `{m['name']}` | {m['value']} |"
        if with_doc:
            row += f" {_cell(m['doc'], names, here)} |" if m["doc"] else " |"
        out.append(row)
    return out


def render_block(block, names, level, section_doc):
    """One block: a heading naming its declarations (with their anchors),
    their shared comment once, then their C text (an enum's members as a
    table), as the header has the comment above the declarations."""
    anchors = "".join(f'<a id="{e["name"]}"></a>' for e in block)
    kinds = {e["kind"] for e in block}
    titles = []
    for e in block:
        titles.append(_enum_title(e["item"]) if e["kind"] == "enum" else f"`{e['name']}`")
    word = _KIND_WORD.get(next(iter(kinds))) if len(kinds) == 1 else None
    if word == "constants" and len(block) == 1:
        word = "constant"
    heading = ", ".join(titles)
    out = [f"{'#' * level} {anchors}{word + ' ' if word else ''}{heading}", ""]
    here = {e["name"] for e in block}
    code = []
    for e in block:
        item = e["item"]
        if e["kind"] == "function":
            code.append(prototype(item))
        elif e["kind"] == "constant":
            code.append(constant_decl(item))
        elif e["kind"] == "macro":
            code.append(macro_decl(item))
        elif e["kind"] == "struct":
            code.append(struct_decl(item))
        elif e["kind"] == "callback":
            code.append(callback_decl(item))
    doc = block[0]["doc"]
    if re.match(r"-{3,}", doc):
        doc = ""  # a section's introduction, written above the block
    if doc and doc != section_doc:
        out += render_doc(doc, names, here) + [""]
    if code:
        out += ["```c"] + code + ["```", ""]
    for e in block:
        if e["kind"] == "enum":
            out += render_enum(e["item"], names, here) + [""]
    return out


# ------------------------------------------------------------- the page

def _section_of(line, sections):
    current = None
    for s in sections:
        if s["line"] < line:
            current = s
    return current


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def check_quickstart(text, api):
    """Raises QuickstartError unless every cem_* / CEM_* name in `text` is
    declared by the header and `text` has no heading above level 3."""
    declared = {f["name"] for f in api["functions"]}
    declared |= {s["name"] for s in api["structs"]}
    declared |= {c["name"] for c in api["callbacks"]}
    declared |= {e["name"] for e in api["enums"] if e["name"]}
    declared |= {c["name"] for c in api["constants"]}
    declared |= {m["name"] for m in api.get("macros", [])}
    declared |= {m["name"] for e in api["enums"] for m in e["members"]}
    for name in sorted(set(re.findall(r"\b(?:cem|CEM)_\w+", text))):
        if name not in declared and name != "CEM_API":
            raise QuickstartError(f"the quick start names {name}, which "
                                  f"{api['header']} does not declare")
    fenced = False
    for ln in text.split("\n"):
        if ln.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,2}\s", ln):
            raise QuickstartError(f"the quick start has a heading above level 3: {ln}")


def _strip_leading_comment(text):
    """The template without its leading <!-- --> note to its editors."""
    s = text.lstrip()
    if s.startswith("<!--"):
        end = s.find("-->")
        if end < 0:
            raise QuickstartError("unterminated <!-- comment in the quick start")
        s = s[end + 3:]
    return s.strip("\n")


def render_markdown(api, quickstart, quickstart_name="tools/api_quickstart.md",
                    groups=GROUPS):
    """The text of docs/API.md for `api` and the quick-start template text."""
    check_quickstart(quickstart, api)
    hdr = api["header"]
    all_entries = _entries(api)
    assigned = assign_groups(api, groups, all_entries)
    names = _Names(api, assigned)
    consts = {c["name"]: c["value"] for c in api["constants"]}
    version = ".".join(str(consts.get(f"CEM_VERSION_{p}", "?"))
                       for p in ("MAJOR", "MINOR", "PATCH"))
    order = [g for g in groups] + ([OTHER] if assigned[OTHER[0]] else [])
    nfun = len(api["functions"])
    sections = api.get("sections", [])
    section_anchor = {}
    for s in sections:
        a = "section-" + _slug(s["title"])
        while a in section_anchor.values():
            a += "-"
        section_anchor[id(s)] = a

    out = [
        "# libcemdiff API reference",
        "",
        f"<!-- Generated by tools/cemdiff_api.py from {hdr} and {quickstart_name}; "
        "do not edit.",
        f"     Regenerate: make bindings (python3 tools/cemdiff_api.py {hdr} --markdown "
        "> docs/API.md) -->",
        "",
        f"Every public declaration of `{hdr}` (libcemdiff {version}: {nfun} functions), "
        "grouped by the handle or concern its name belongs to, each with its declaration "
        "as the header writes it and the comment the header writes above it. The "
        "header is the manual: this page is generated from it by "
        "`tools/cemdiff_api.py --markdown` (`make bindings`), and `make check` fails "
        "when the two disagree. Enum values are part of the ABI and never change.",
        "",
        "Every function is declared `CEM_API`, which is empty for a host (it marks "
        "the exported symbols when the library is built). A function returning `int` "
        "and documented with errors returns `CEM_OK` (0) or a negative `CEM_ERR_*` "
        "status; the [conventions](#conventions) below hold for every function.",
        "",
        "## Contents",
        "",
        "- [Quick start: C, C++, Python, Julia](#quick-start)",
        "- [Conventions](#conventions)",
    ]
    for anchor, title, _ in order:
        entries = assigned[anchor]
        out.append(f"- [{title}](#{anchor})")
        types = [e for e in entries if e["kind"] != "function"]
        funcs = [e for e in entries if e["kind"] == "function"]
        if types:
            out.append("  - declarations: " + ", ".join(
                f"[{_enum_title(e['item']) if e['kind'] == 'enum' else '`' + e['name'] + '`'}]"
                f"(#{e['name']})" for e in types))
        if funcs:
            out.append("  - functions: " + ", ".join(
                f"[`{e['name']}`](#{e['name']})" for e in funcs))
    out += ["", '## <a id="quick-start"></a>Quick start: C, C++, Python, Julia', "",
            _strip_leading_comment(quickstart), "",
            '## <a id="conventions"></a>Conventions', ""]
    if api.get("preamble"):
        out += render_doc(api["preamble"], names) + [""]

    written_sections = {}  # section id -> (title, group title, anchor)
    rendered = []
    for anchor, title, _ in order:
        entries = assigned[anchor]
        handles = [e["name"] for e in entries if e["kind"] == "struct"]
        heading = title + (" (" + ", ".join(f"`{h}`" for h in handles) + ")" if handles else "")
        single = None
        sec_ids = []
        for e in entries:
            sec = _section_of(e["line"], sections)
            if not sec_ids or sec_ids[-1] is not sec:
                sec_ids.append(sec)
        if len(sec_ids) == 1 and sec_ids[0] is not None and sec_ids[0]["doc"] \
                and id(sec_ids[0]) not in written_sections:
            single = section_anchor[id(sec_ids[0])]
        extra = f'<a id="{single}"></a>' if single else ""
        out += [f'## <a id="{anchor}"></a>{extra}{heading}', ""]
        if not entries:
            out += ["(No declarations.)", ""]
            continue
        by_section = []
        for e in entries:
            s = _section_of(e["line"], sections)
            if not by_section or by_section[-1][0] is not s:
                by_section.append((s, []))
            by_section[-1][1].append(e)
        several = len(by_section) > 1
        level = 4 if several else 3
        for s, sec_entries in by_section:
            sdoc = s["doc"] if s else ""
            if several:
                stitle = s["title"] if s else "Declarations"
                stitle = stitle[:1].upper() + stitle[1:]
                sa = section_anchor[id(s)] if s is not None and id(s) not in written_sections else ""
                tag = f'<a id="{sa}"></a>' if sa else ""
                out += [f"### {tag}{stitle}", ""]
            if s is not None and sdoc:
                if id(s) in written_sections:
                    first_title, first_group, first_anchor = written_sections[id(s)]
                    out += [f"The introduction to this part of the header ({first_title}) "
                            f"is under [{first_group}](#{first_anchor}).", ""]
                else:
                    out += render_doc(sdoc, names) + [""]
            if s is not None and id(s) not in written_sections:
                written_sections[id(s)] = (s["title"], title, section_anchor[id(s)])
            for block in _blocks(sec_entries, all_entries):
                out += render_block(block, names, level, sdoc)
                rendered += [e["name"] for e in block if e["kind"] == "function"]

    declared = [f["name"] for f in api["functions"]]
    if sorted(rendered) != sorted(declared):
        missing = sorted(set(declared) - set(rendered))
        twice = sorted({n for n in rendered if rendered.count(n) > 1})
        raise AssertionError(f"docs/API.md would miss {missing} or repeat {twice}")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
