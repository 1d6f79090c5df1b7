#!/usr/bin/python3
"""cemdiff_api.py -- read include/cemdiff.h and describe its API.

Usage:
  python3 tools/cemdiff_api.py include/cemdiff.h --json
  python3 tools/cemdiff_api.py include/cemdiff.h --python > python/cemdiff/_api.py
  python3 tools/cemdiff_api.py include/cemdiff.h --check-python python/cemdiff/_api.py
  python3 tools/cemdiff_api.py include/cemdiff.h --julia > julia/gen_api.jl
  python3 tools/cemdiff_api.py include/cemdiff.h --check-julia julia/gen_api.jl
  python3 tools/cemdiff_api.py include/cemdiff.h --markdown > docs/API.md
  python3 tools/cemdiff_api.py include/cemdiff.h --check-markdown docs/API.md

(--julia writes the ccall layer of julia/CemDiff.jl: tools/cemdiff_julia.py.
--markdown writes the API reference, every declaration grouped by handle
with its comment, around the hand-written quick starts of
tools/api_quickstart.md: tools/cemdiff_markdown.py.)  Each --check-X FILE
prints a unified diff and exits 1 when FILE is not what --X prints;
`make bindings` regenerates all three files, `make check` runs the checks.

The parser knows exactly the subset of C the public header is written in:
  - integer #define CEM_* constants (expressions of integers and earlier
    constants), the CEM_API export macro and the include guard;
  - function-like #define CEM_*(...) macros, kept with their text (for
    docs/API.md; no binding can call them);
  - `typedef enum { A = 1, ... } name;` and `enum { ... };` (every member
    with an explicit integer value: the values are the ABI);
  - `typedef struct tag name;` (opaque handles);
  - `typedef ret (*name)(args);` (callbacks);
  - `CEM_API ret name(args);` (functions), with types made of const, the
    C arithmetic types, size_t, the <stdint.h> types, the header's own
    typedefs and pointers.
Anything else -- a declaration, directive or type it does not know -- stops
it with exit status 1 and the offending line, so the header cannot outgrow
the Python bindings silently.  Regions under `#ifdef __cplusplus` are
skipped.

The comment block above a declaration is its documentation; it applies to
every declaration that follows it up to the next blank line or comment
(the header documents groups such as cem_trainer_set/_get/_option_bounds
with one comment).  The header's opening comment is kept as "preamble", and
a comment that starts with a rule of dashes (`/* ---- title`) as a section
with its title and the introduction after the rule.
"""

import ast
import difflib
import json
import os
import re
import sys

# Base types and their ctypes spelling.  `unsigned` alone is unsigned int;
# `unsigned char` is a byte (c_ubyte: a pointer to it is an array of bytes,
# never a string).
_BASE_CTYPES = {
    "void": None,
    "char": "ctypes.c_char",
    "unsigned char": "ctypes.c_ubyte",
    "int": "ctypes.c_int",
    "unsigned": "ctypes.c_uint",
    "unsigned int": "ctypes.c_uint",
    "long": "ctypes.c_long",
    "unsigned long": "ctypes.c_ulong",
    "float": "ctypes.c_float",
    "double": "ctypes.c_double",
    "size_t": "ctypes.c_size_t",
    "int32_t": "ctypes.c_int32",
    "uint32_t": "ctypes.c_uint32",
    "int64_t": "ctypes.c_int64",
    "uint64_t": "ctypes.c_uint64",
}
_TYPE_WORDS = {"void", "char", "int", "unsigned", "long", "float", "double"}
_KNOWN_DIRECTIVES = {"if", "ifdef", "ifndef", "elif", "else", "endif",
                     "include", "define"}


class HeaderError(Exception):
    """A construct of the header the parser does not understand."""

    def __init__(self, filename, line, text, why):
        super().__init__(f"{filename}:{line}: cannot parse ({why}): "
                         f"{text.strip()}")


def _clean_comment(text):
    """The text of a /* */ or // comment without its markers and stars."""
    if text.startswith("//"):
        return text[2:].strip()
    body = text[2:-2]
    lines = body.split("\n")
    out = []  # (text, whether the line had a leading "*")
    for ln in lines:
        s = ln.strip()
        if s.startswith("*"):
            s = s[1:]
            s = s[1:] if s.startswith(" ") else s
            out.append((s.rstrip(), True))
        else:
            out.append((ln.rstrip(), False))
    while out and not out[0][0].strip():
        out.pop(0)
    while out and not out[-1][0].strip():
        out.pop()
    if not out:
        return ""
    # Dedent the lines after the first (the first follows "/*" directly)
    # that have no "*": after " * " the indentation is the text's own (an
    # indented table of options under a first line keeps its indent).
    rest = [ln for ln, star in out[1:] if ln.strip() and not star]
    pad = min((len(ln) - len(ln.lstrip()) for ln in rest), default=0)
    return "\n".join([out[0][0].strip()] +
                     [ln if star else ln[pad:] for ln, star in out[1:]])


def _scan(text, filename):
    """Splits the header into items: (kind, text, line, comments) with kind
    one of "comment", "blank", "pp", "decl".  Comments inside a declaration
    are replaced by placeholders @N@ followed by the newlines they held;
    `comments` lists their texts."""
    items = []
    i, line, n = 0, 1, len(text)
    at_line_start = True
    skip = []  # stack of booleans: inside a C++-only region
    while i < n:
        c = text[i]
        if c == "\n":
            if at_line_start and not any(skip):
                items.append(("blank", "", line, []))
            i += 1
            line += 1
            at_line_start = True
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "#" and at_line_start:
            start_line = line
            j = i
            while True:
                k = text.find("\n", j)
                k = n if k < 0 else k
                if k > 0 and text[k - 1] == "\\" and k < n:
                    j = k + 1
                    line += 1
                    continue
                break
            directive = text[i:k].replace("\\\n", " ")
            i = k
            at_line_start = False  # the directive's own newline is no blank line
            word = re.match(r"#\s*(\w*)", directive).group(1)
            if word not in _KNOWN_DIRECTIVES:
                raise HeaderError(filename, start_line, directive,
                                  "unknown preprocessor directive")
            if word in ("if", "ifdef", "ifndef"):
                skip.append(re.fullmatch(
                    r"#\s*(ifdef\s+__cplusplus|if\s+defined\s*\(?\s*__cplusplus\s*\)?)\s*",
                    directive) is not None)
            elif word in ("else", "elif", "endif") and not skip:
                raise HeaderError(filename, start_line, directive, "unbalanced")
            elif word in ("else", "elif") and skip[-1]:
                raise HeaderError(filename, start_line, directive,
                                  "#else of a C++-only region")
            elif word == "endif":
                skip.pop()
            if not any(skip):
                items.append(("pp", directive, start_line, []))
            continue
        if any(skip):  # a C++-only line: consume it whole
            k = text.find("\n", i)
            i = n if k < 0 else k
            continue
        at_line_start = False
        if text.startswith("/*", i) or text.startswith("//", i):
            k = text.find("*/", i) + 2 if text[i + 1] == "*" else text.find("\n", i)
            if k < 2:
                raise HeaderError(filename, line, text[i:i + 40], "unterminated comment")
            k = n if k < 0 else k
            body = text[i:k]
            items.append(("comment", body, line, []))
            line += body.count("\n")
            i = k
            continue
        # A declaration: up to ';' at brace depth 0.
        start_line, depth, parts, comments, j = line, 0, [], [], i
        while True:
            if j >= n:
                raise HeaderError(filename, start_line, text[i:i + 60],
                                  "declaration without ';'")
            if text.startswith("/*", j) or text.startswith("//", j):
                k = text.find("*/", j) + 2 if text[j + 1] == "*" else text.find("\n", j)
                body = text[j:k]
                parts.append(f" @{len(comments)}@" + "\n" * body.count("\n"))
                comments.append(_clean_comment(body))
                line += body.count("\n")
                j = k
                continue
            ch = text[j]
            if ch == "#":
                raise HeaderError(filename, line, text[j:text.find("\n", j)],
                                  "directive inside a declaration")
            parts.append(ch)
            line += ch == "\n"
            j += 1
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == ";" and depth == 0:
                break
        items.append(("decl", "".join(parts), start_line, comments))
        i = j
    if skip:
        raise HeaderError(filename, line, "", "#if without #endif")
    return items


def _eval_int(expr, constants, filename, line):
    """The value of an integer constant expression (C integer literals,
    earlier constants, + - * / % << >> | & ~ and parentheses)."""
    src = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", expr.strip())
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError:
        raise HeaderError(filename, line, expr, "not an integer expression") from None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and node.id in constants:
            return constants[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else (~v if isinstance(node.op, ast.Invert) else v)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                   ast.Mod: lambda: a % b, ast.LShift: lambda: a << b,
                   ast.RShift: lambda: a >> b, ast.BitOr: lambda: a | b,
                   ast.BitAnd: lambda: a & b,
                   ast.Div: lambda: int(a / b)}  # C truncates towards zero
            if type(node.op) in ops:
                return ops[type(node.op)]()
        raise HeaderError(filename, line, expr, "not an integer expression")

    return ev(tree)


class _Parser:
    def __init__(self, filename):
        self.filename = filename
        self.constants = {}   # name -> value
        self.api = {"header": filename, "preamble": "", "sections": [],
                    "constants": [], "macros": [], "enums": [],
                    "structs": [], "callbacks": [], "functions": []}
        self.typedefs = {}    # name -> "enum" | "struct" | "callback"
        self.guard = None

    def fail(self, line, text, why):
        raise HeaderError(self.filename, line, text, why)

    # -------------------------------------------------------------- types
    def parse_type(self, tokens, line, text):
        """A type from its tokens: {"c": canonical C, "base", "const",
        "pointers"} or a failure."""
        base, const, pointers, seen_star = [], False, 0, False
        for tok in tokens:
            if tok == "*":
                pointers += 1
                seen_star = True
            elif tok == "const":
                if seen_star:
                    self.fail(line, text, "const pointer (T *const) not supported")
                const = True
            elif seen_star:
                self.fail(line, text, f"unexpected '{tok}' after '*'")
            else:
                base.append(tok)
        if not base:
            self.fail(line, text, "missing type")
        if all(b in _TYPE_WORDS for b in base):
            name = " ".join(base)
            if name not in _BASE_CTYPES:
                self.fail(line, text, f"unsupported type '{name}'")
        elif len(base) == 1 and (base[0] in _BASE_CTYPES or base[0] in self.typedefs):
            name = base[0]
        else:
            self.fail(line, text, f"unknown type '{' '.join(base)}'")
        if self.typedefs.get(name) == "struct" and pointers == 0:
            self.fail(line, text, f"opaque type {name} passed by value")
        if name == "void" and pointers == 0 and const:
            self.fail(line, text, "const void")
        c = ("const " if const else "") + name + (" " + "*" * pointers if pointers else "")
        return {"c": c, "base": name, "const": const, "pointers": pointers}

    def parse_params(self, args, line, text):
        args = args.strip()
        if args == "void":
            return []
        params = []
        for arg in args.split(","):
            toks = re.findall(r"\w+|\*|\S", arg)
            if any(not re.fullmatch(r"\w+|\*", t) for t in toks):
                self.fail(line, text, f"unsupported parameter '{arg.strip()}'")
            if len(toks) < 2 or toks[-1] in _TYPE_WORDS or toks[-1] in ("const", "*") \
                    or toks[-1] in self.typedefs or toks[-1] in _BASE_CTYPES:
                self.fail(line, text, f"parameter without a name '{arg.strip()}'")
            params.append({"name": toks[-1], "type": self.parse_type(toks[:-1], line, text)})
        return params

    # --------------------------------------------------------- directives
    def directive(self, text, line, doc):
        m = re.fullmatch(r"#\s*define\s+(\w+)(\s+(.*))?", text.strip(), re.S)
        f = re.fullmatch(r"#\s*define\s+(CEM_\w+)\(([^()]*)\)\s*(.*)", text.strip(), re.S)
        if m is None and f is not None:
            # A function-like macro: kept with its text for the reference
            # (docs/API.md); no binding can call it.
            params = [p.strip() for p in f.group(2).split(",") if p.strip()]
            self.api["macros"].append({"name": f.group(1), "params": params,
                                       "body": " ".join(f.group(3).split()),
                                       "line": line, "doc": doc})
            return
        if m is None:
            m2 = re.fullmatch(r"#\s*ifndef\s+(\w+)\s*", text)
            if m2 and self.guard is None:
                self.guard = m2.group(1)
            return
        name, value = m.group(1), (m.group(3) or "").strip()
        if name == "CEM_API":
            return  # the export macro: marks declarations
        if name == self.guard and not value:
            return
        if not name.startswith("CEM_"):
            self.fail(line, text, "a #define outside the CEM_ namespace")
        v = _eval_int(value, self.constants, self.filename, line)
        if name in self.constants:
            if self.constants[name] != v:
                self.fail(line, text, f"{name} redefined with another value")
            return
        self.constants[name] = v
        self.api["constants"].append({"name": name, "value": v, "expr": value,
                                      "line": line, "doc": doc})

    # -------------------------------------------------------- declarations
    def declaration(self, raw, line, comments, doc):
        code = re.sub(r"@\d+@", " ", raw)
        flat = " ".join(code.split())
        m = re.fullmatch(r"(typedef\s+)?enum\s*\{(.*)\}\s*(\w+)?\s*;", flat, re.S)
        if m:
            if bool(m.group(1)) != bool(m.group(3)):
                self.fail(line, flat, "enum must be `typedef enum {...} name;` or `enum {...};`")
            body = re.search(r"\{(.*)\}", raw, re.S).group(1)
            return self.enum(m.group(3), body, line, comments, doc, flat)
        m = re.fullmatch(r"typedef struct (\w+) (\w+) ;", re.sub(r"\s*;", " ;", flat))
        if m:
            self.typedefs[m.group(2)] = "struct"
            self.api["structs"].append({"name": m.group(2), "tag": m.group(1),
                                        "line": line, "doc": doc})
            return
        m = re.fullmatch(r"typedef\s+(.+?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)\s*;", flat)
        if m:
            ret = self.parse_type(re.findall(r"\w+|\*", m.group(1)), line, flat)
            params = self.parse_params(m.group(3), line, flat)
            self.typedefs[m.group(2)] = "callback"
            self.api["callbacks"].append({"name": m.group(2), "returns": ret,
                                          "params": params, "line": line, "doc": doc})
            return
        m = re.fullmatch(r"CEM_API\s+(.*?)\b(\w+)\s*\(([^()]*)\)\s*;", flat)
        if m:
            rtoks = re.findall(r"\w+|\*|\S", m.group(1))
            if any(not re.fullmatch(r"\w+|\*", t) for t in rtoks):
                self.fail(line, flat, "unsupported return type")
            ret = self.parse_type(rtoks, line, flat)
            params = self.parse_params(m.group(3), line, flat)
            self.api["functions"].append({"name": m.group(2), "returns": ret,
                                          "params": params, "line": line,
                                          "prototype": flat, "doc": doc})
            return
        self.fail(line, flat, "unknown declaration")

    def enum(self, name, body, line, comments, doc, flat):
        members = []
        pending = []      # comments on their own line: for the next member
        last_end = None   # offset in body where the last member's tokens end
        for tok in re.finditer(r"@(\d+)@|(\w+)\s*=\s*([-+]?\s*\w+)|(,)|(\S+)", body):
            if tok.group(1) is not None:
                text = comments[int(tok.group(1))]
                own_line = last_end is None or "\n" in body[last_end:tok.start()]
                if own_line:
                    pending.append(text)
                else:
                    members[-1]["doc"] = (members[-1]["doc"] + "\n" + text).strip()
                    last_end = tok.end()
            elif tok.group(2) is not None:
                mname = tok.group(2)
                value = _eval_int(tok.group(3), self.constants, self.filename, line)
                if any(mm["name"] == mname for mm in members) or mname in self.constants:
                    self.fail(line, flat, f"{mname} defined twice")
                members.append({"name": mname, "value": value, "doc": "\n".join(pending)})
                pending = []
                last_end = tok.end()
            elif tok.group(4) is not None:
                last_end = tok.end()
            else:
                self.fail(line, flat, f"enum member without an explicit value near '{tok.group(5)}'")
        if not members:
            self.fail(line, flat, "empty enum")
        for mm in members:
            self.constants[mm["name"]] = mm["value"]
        if name:
            self.typedefs[name] = "enum"
        self.api["enums"].append({"name": name, "members": members, "line": line, "doc": doc})

    def run(self, text):
        doc = ""
        for index, (kind, body, line, comments) in enumerate(_scan(text, self.filename)):
            if kind == "comment":
                doc = _clean_comment(body)
                rule = re.match(r"-{3,}[ \t]*(.*)", doc)
                if rule:  # a section: /* ------ title, then its introduction */
                    self.api["sections"].append({
                        "title": rule.group(1).strip(), "line": line,
                        "doc": doc[rule.end():].strip("\n")})
                elif index == 0:
                    self.api["preamble"] = doc
            elif kind == "blank":
                doc = ""
            elif kind == "pp":
                self.directive(body, line, doc)
            else:
                self.declaration(body, line, comments, doc)
        if not self.api["functions"]:
            self.fail(1, "", "no CEM_API function found")
        return self.api


def parse_header(path):
    """The API of the header at `path` as a dict (see --json)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    name = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(path))),
                        os.path.basename(path))
    return _Parser(name).run(text)


# ------------------------------------------------------------- Python output

def enum_prefix(names):
    """The words the member names of an enum share (at most all but the
    last word of each): CEM_TRAINER_LR, CEM_TRAINER_BATCH -> CEM_TRAINER_."""
    words = [n.split("_") for n in names]
    k = min(len(w) - 1 for w in words)
    i = 0
    while i < k and all(w[i] == words[0][i] for w in words):
        i += 1
    return "_".join(words[0][:i]) + "_" if i else ""


def enum_class_name(cname):
    """cem_model_option -> ModelOption."""
    words = cname.split("_")
    if words[0] == "cem":
        words = words[1:]
    return "".join(w.capitalize() for w in words)


def _ctype(t, enums):
    """The ctypes expression of type t; `enums` names the enum typedefs
    (passed as int), other typedefs are the generated classes."""
    base, p = t["base"], t["pointers"]
    if base in _BASE_CTYPES:
        expr = _BASE_CTYPES[base]
    else:
        expr = "ctypes.c_int" if base in enums else base
    if p == 0:
        return "None" if expr is None else expr
    if base == "void":
        expr, p = "ctypes.c_void_p", p - 1
    elif base == "char" and t["const"]:
        expr, p = "ctypes.c_char_p", p - 1
    for _ in range(p):
        expr = f"ctypes.POINTER({expr})"
    return expr


def render_python(api):
    """The text of python/cemdiff/_api.py for `api`."""
    enums = {e["name"] for e in api["enums"] if e["name"]}
    hdr = api["header"]
    out = [
        f"# Generated by tools/cemdiff_api.py from {hdr}; do not edit.",
        f"# Regenerate: python3 tools/cemdiff_api.py {hdr} --python > python/cemdiff/_api.py",
        f'"""ctypes declarations of every constant, enum, type and function of {hdr}."""',
        "",
        "import ctypes",
        "import enum",
        "",
        "# ------------------------------------------------------------ #define constants",
    ]
    for c in api["constants"]:
        out.append(f"{c['name']} = {c['value']}")
    ver = {c["name"]: c["value"] for c in api["constants"]}
    if all(f"CEM_VERSION_{k}" in ver for k in ("MAJOR", "MINOR", "PATCH")):
        out += ["# the header's version as text (python/pyproject.toml's version)",
                "HEADER_VERSION = \"{}.{}.{}\"".format(
                    *(ver[f"CEM_VERSION_{k}"] for k in ("MAJOR", "MINOR", "PATCH")))]
    out += ["", "# --------------------------------------------------------------- enum members"]
    for e in api["enums"]:
        out.append(f"# {e['name'] or 'enum (anonymous)'}")
        for m in e["members"]:
            out.append(f"{m['name']} = {m['value']}")
    out += ["", "# ------------------------------------------- enums as IntEnum (named enums)"]
    table = []
    for e in api["enums"]:
        if not e["name"]:
            continue
        cls = enum_class_name(e["name"])
        prefix = enum_prefix([m["name"] for m in e["members"]])
        out += ["", "", f"class {cls}(enum.IntEnum):",
                f'    """{e["name"]}; members are its {prefix}* constants."""', ""]
        for m in e["members"]:
            short = m["name"][len(prefix):]
            if not short.isidentifier():
                raise HeaderError(hdr, e["line"], m["name"], "member name is not an identifier")
            out.append(f"    {short} = {m['value']}")
        table.append(f"    {e['name']!r}: {cls},")
    out += ["", "", "# The IntEnum of each C enum typedef.", "ENUMS = {"] + table + ["}", ""]
    out += ["# ------------------------------------------------------------ opaque handles"]
    for s in api["structs"]:
        out += ["", "", f"class {s['name']}(ctypes.Structure):",
                f'    """Opaque struct {s["tag"]}: only pointers to it exist."""']
    out += ["", "", "# ----------------------------------------------------------------- callbacks"]
    for cb in api["callbacks"]:
        args = ", ".join([_ctype(cb["returns"], enums)] + [_ctype(p["type"], enums) for p in cb["params"]])
        out.append(f"{cb['name']} = ctypes.CFUNCTYPE({args})")
    out += ["", "# ----------------------------------------------------------------- functions",
            "# name: (restype, ((parameter name, argtype), ...))", "FUNCTIONS = {"]
    for f in api["functions"]:
        out.append(f"    # {f['prototype']}")
        params = "".join(f"({p['name']!r}, {_ctype(p['type'], enums)}), " for p in f["params"])
        out.append(f"    {f['name']!r}: ({_ctype(f['returns'], enums)}, ({params.rstrip(' ')})),")
    out += ["}", "", "",
            "def bind(lib):",
            '    """Sets restype and argtypes of every function of FUNCTIONS on the',
            "    ctypes.CDLL `lib`; raises AttributeError naming the first symbol the",
            '    library lacks."""',
            "    for name, (restype, params) in FUNCTIONS.items():",
            "        fn = getattr(lib, name)",
            "        fn.restype = restype",
            "        fn.argtypes = [t for _, t in params]",
            ""]
    return "\n".join(out)


# The hand-written quick starts that --markdown puts into docs/API.md (next
# to this file).
QUICKSTART = "tools/api_quickstart.md"


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("header")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--json", action="store_true", help="print the API as JSON")
    g.add_argument("--python", action="store_true", help="print the ctypes module")
    g.add_argument("--check-python", metavar="FILE",
                   help="exit 1 with a diff when FILE differs from --python")
    g.add_argument("--julia", action="store_true", help="print julia/gen_api.jl")
    g.add_argument("--check-julia", metavar="FILE",
                   help="exit 1 with a diff when FILE differs from --julia")
    g.add_argument("--markdown", action="store_true",
                   help="print docs/API.md (with " + QUICKSTART + ")")
    g.add_argument("--check-markdown", metavar="FILE",
                   help="exit 1 with a diff when FILE differs from --markdown")
    args = ap.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    source = args.header
    try:
        api = parse_header(args.header)
        if args.json:
            print(json.dumps(api, indent=1))
            return 0
        if args.julia or args.check_julia:
            sys.path.insert(0, here)
            from cemdiff_julia import render_julia
            text, mode, checked = render_julia(api), "--julia", args.check_julia
        elif args.markdown or args.check_markdown:
            sys.path.insert(0, here)
            from cemdiff_markdown import QuickstartError, render_markdown
            path = os.path.join(here, os.path.basename(QUICKSTART))
            try:
                with open(path, encoding="utf-8") as f:
                    quickstart = f.read()
                text = render_markdown(api, quickstart, QUICKSTART)
            except (OSError, QuickstartError) as e:
                print(f"cemdiff_api: {e}", file=sys.stderr)
                return 1
            mode, checked = "--markdown", args.check_markdown
            source = f"{args.header} and {QUICKSTART}"
        else:
            text, mode, checked = render_python(api), "--python", args.check_python
    except HeaderError as e:
        print(f"cemdiff_api: {e}", file=sys.stderr)
        return 1
    if args.python or args.julia or args.markdown:
        sys.stdout.write(text)
        return 0
    try:
        with open(checked, encoding="utf-8") as f:
            old = f.read()
    except OSError as e:
        print(f"cemdiff_api: {e}", file=sys.stderr)
        return 1
    if old == text:
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        old.splitlines(True), text.splitlines(True), checked,
        f"generated from {source}"))
    print(f"cemdiff_api: {checked} is out of date; regenerate it with\n"
          f"  python3 tools/cemdiff_api.py {args.header} {mode} > {checked}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
