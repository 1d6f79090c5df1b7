#!/usr/bin/python3
"""check_julia.py -- a structural check of the Julia bindings (no Julia on
these machines, so they are read, not run).

  python3 tests/check_julia.py [ROOT]

Against include/cemdiff.h (parsed by tools/cemdiff_api.py, imported as a
module), it asserts:
  - julia/gen_api.jl is exactly what `cemdiff_api.py --julia` prints;
  - it holds one ccall wrapper per CEM_API function, no other, each named
    as its C function, with the header's number of arguments, its
    parameters passed in order, and argument and return types mapped from
    C by this file's own table (below, independent of the generator's);
  - every #define constant and enum member is defined once with its value;
  - the handle and callback aliases are Ptr{Cvoid};
  - julia/CemDiff.jl calls only functions of the header, names only its
    constants (option prefixes included), includes gen_api.jl, finds the
    library as documented, gives every handle type an unsafe_convert and a
    finalizer that frees it, retains the trainer's model, and declares its
    @cfunction with the header's callback signature;
  - both files' blocks balance (every function/if/for/... has its end).
Prints one line per failure and exits 1 on any.
"""

import importlib.util
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), os.pardir))

# The Julia type of each C base type (docs/julia.md has the same table).
C_TO_JULIA = {
    "void": "Cvoid", "char": "Cchar", "unsigned char": "Cuchar", "int": "Cint",
    "unsigned": "Cuint", "unsigned int": "Cuint", "long": "Clong", "unsigned long": "Culong",
    "float": "Cfloat", "double": "Cdouble", "size_t": "Csize_t",
    "int32_t": "Int32", "uint32_t": "UInt32", "int64_t": "Int64", "uint64_t": "UInt64",
}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"check_julia: FAIL: {msg}")


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def expected_type(t, api):
    """Julia spelling of a parsed C type, by this checker's rules: opaque
    handles and callbacks are Ptr{Cvoid}, enums Cint, const char * Cstring."""
    base, p = t["base"], t["pointers"]
    structs = {s["name"] for s in api["structs"]}
    callbacks = {c["name"] for c in api["callbacks"]}
    enums = {e["name"] for e in api["enums"] if e["name"]}
    if base in structs:
        expr, p = "Ptr{Cvoid}", p - 1
    elif base in callbacks:
        expr = "Ptr{Cvoid}"
    elif base in enums:
        expr = "Cint"
    elif base == "char" and t["const"] and p == 1:
        expr, p = "Cstring", 0
    else:
        expr = C_TO_JULIA[base]
    return "Ptr{" * p + expr + "}" * p if p else expr


# ------------------------------------------------------------ a small lexer

def strip_julia(text, where):
    """Julia code with comments removed and every string literal replaced by
    STR(interpolated expressions); returns (code, [string bodies])."""
    out, strings, i, n = [], [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("#=", i):
            k = text.find("=#", i)
            if k < 0:
                raise ValueError(f"{where}: unterminated #= comment")
            out.append("\n" * text.count("\n", i, k))
            i = k + 2
        elif c == "#":
            k = text.find("\n", i)
            i = n if k < 0 else k
        elif c == '"':
            quote = '"""' if text.startswith('"""', i) else '"'
            j, body, interps = i + len(quote), [], []
            while True:
                if j >= n:
                    raise ValueError(f"{where}: unterminated string")
                if text.startswith(quote, j):
                    break
                if text[j] == "\\":
                    body.append(text[j:j + 2])
                    j += 2
                elif text.startswith("$(", j):
                    depth, k = 0, j + 1
                    while True:
                        depth += {"(": 1, ")": -1}.get(text[k], 0)
                        k += 1
                        if depth == 0:
                            break
                    interps.append(text[j + 2:k - 1])
                    body.append(text[j:k])
                    j = k
                else:
                    body.append(text[j])
                    j += 1
            strings.append("".join(body))
            inner = "; ".join(interps)
            out.append(f"STR({inner})" + "\n" * text.count("\n", i, j))
            i = j + len(quote)
        elif c == "'":
            raise ValueError(f"{where}: a ' in code (char literal or adjoint) is not read by this check")
        else:
            out.append(c)
            i += 1
    return "".join(out), strings


OPENERS = {"function", "if", "for", "while", "let", "begin", "try", "struct", "module",
           "baremodule", "quote", "macro", "do"}


def check_blocks(code, where):
    """Every block keyword at bracket depth 0 has its `end`."""
    depth, brackets = 0, 0
    for m in re.finditer(r"[A-Za-z_][A-Za-z_0-9!]*|[\[\](){}]", code):
        tok = m.group(0)
        if tok in "([{":
            brackets += 1
        elif tok in ")]}":
            brackets -= 1
        elif brackets == 0 and tok in OPENERS:
            depth += 1
        elif brackets == 0 and tok == "end":
            depth -= 1
            if depth < 0:
                line = code.count("\n", 0, m.start()) + 1
                fail(f"{where}:{line}: `end` without a block")
                return
    if depth != 0 or brackets != 0:
        fail(f"{where}: {depth} block(s) and {brackets} bracket(s) left open")


def split_top(s):
    """Splits s at commas outside brackets."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    last = "".join(cur).strip()
    if last:
        parts.append(last)
    return parts


def balanced(code, start):
    """The text inside the parentheses opening at code[start]."""
    depth = 0
    for k in range(start, len(code)):
        depth += {"(": 1, ")": -1}.get(code[k], 0)
        if depth == 0:
            return code[start + 1:k]
    raise ValueError("unbalanced parentheses")


# ------------------------------------------------------------ gen_api.jl

def check_generated(api, text, gen_path):
    render = load_tool("cemdiff_julia").render_julia
    if text != render(api):
        fail(f"{gen_path} differs from `tools/cemdiff_api.py include/cemdiff.h --julia` "
             "(run make bindings)")
    code, _ = strip_julia(text, gen_path)
    check_blocks(code, gen_path)

    aliases = dict(re.findall(r"^const (\w+) = (Ptr\{Cvoid\})\s*$", code, re.M))
    for s in api["structs"]:
        if not any(v == "Ptr{Cvoid}" and k.startswith(s["name"]) for k, v in aliases.items()):
            fail(f"no Ptr{{Cvoid}} alias for the handle {s['name']}")
    for cb in api["callbacks"]:
        if aliases.get(cb["name"]) != "Ptr{Cvoid}":
            fail(f"the callback {cb['name']} is not an alias of Ptr{{Cvoid}}")

    def resolve(jtype):
        """Aliases of Ptr{Cvoid} replaced by it, inside Ptr{...} too."""
        for name in sorted(aliases, key=len, reverse=True):
            jtype = re.sub(rf"\b{name}\b", "Ptr{Cvoid}", jtype)
        return jtype

    # constants
    defined = {}
    for name, value in re.findall(r"^const (CEM_\w+) = (?:Cint\()?(-?\d+)\)?\s*$", code, re.M):
        if name in defined:
            fail(f"{name} defined twice")
        defined[name] = int(value)
    want = {c["name"]: c["value"] for c in api["constants"]}
    for e in api["enums"]:
        for m in e["members"]:
            want[m["name"]] = m["value"]
            if not re.search(rf"^const {m['name']} = Cint\({m['value']}\)$", code, re.M):
                fail(f"enum member {m['name']} is not the Cint {m['value']}")
    for name, value in want.items():
        if defined.get(name) != value:
            fail(f"constant {name}: header {value}, gen_api.jl {defined.get(name)}")
    for name in set(defined) - set(want):
        fail(f"gen_api.jl defines {name}, which the header does not")

    # wrappers
    functions = {f["name"]: f for f in api["functions"]}
    seen = {}
    for m in re.finditer(r"\bccall\s*\(", code):
        args = split_top(balanced(code, m.end() - 1))
        line = code.count("\n", 0, m.start()) + 1
        target = re.fullmatch(r"\(\s*:(\w+)\s*,\s*libcemdiff\s*\)", args[0]) if args else None
        if target is None or len(args) < 3:
            fail(f"{gen_path}:{line}: a ccall not of the form ccall((:name, libcemdiff), R, (T...), args...)")
            continue
        name = target.group(1)
        seen[name] = seen.get(name, 0) + 1
        f = functions.get(name)
        if f is None:
            fail(f"{gen_path}:{line}: ccall of {name}, which the header does not declare")
            continue
        head = code.rfind("\nfunction ", 0, m.start())
        sig = re.match(r"\nfunction (\w+)\(([^)]*)\)\s*$", code[head:m.start()])
        if sig is None or sig.group(1) != name:
            fail(f"{gen_path}:{line}: the ccall of {name} is not the body of `function {name}(...)`")
            continue
        params = [p.strip() for p in sig.group(2).split(",") if p.strip()]
        tup = args[2]
        if not (tup.startswith("(") and tup.endswith(")")):
            fail(f"{name}: argument types are not a tuple: {tup}")
            continue
        types = split_top(tup[1:-1])
        passed = args[3:]
        ctypes = [expected_type(p["type"], api) for p in f["params"]]
        if not (len(params) == len(types) == len(passed) == len(f["params"])):
            fail(f"{name}: {len(f['params'])} C parameters, Julia has {len(params)} "
                 f"parameters, {len(types)} types, {len(passed)} arguments")
            continue
        if len(types) == 1 and not re.search(r",\s*\)$", tup):
            fail(f"{name}: a one-element type tuple needs its trailing comma: {tup}")
        if passed != params:
            fail(f"{name}: passes ({', '.join(passed)}) for parameters ({', '.join(params)})")
        for p, jt, ct in zip(f["params"], types, ctypes):
            if resolve(jt) != ct:
                fail(f"{name}: parameter {p['name']} ({p['type']['c']}) is {jt}, expected {ct}")
        ret = expected_type(f["returns"], api)
        if resolve(args[1]) != ret:
            fail(f"{name}: returns {args[1]}, expected {ret} ({f['returns']['c']})")
    for name in functions:
        if seen.get(name, 0) != 1:
            fail(f"{name}: {seen.get(name, 0)} ccall wrappers in {gen_path}, expected 1")
    listed = re.search(r"const CEM_FUNCTIONS = \((.*?)\n\)", code, re.S)
    if listed is None or re.findall(r":(\w+)", listed.group(1)) != list(functions):
        fail("CEM_FUNCTIONS does not list the header's functions in order")
    return want


# ------------------------------------------------------------ CemDiff.jl

def check_module(api, constants, text, path):
    code, strings = strip_julia(text, path)
    check_blocks(code, path)
    functions = set(f["name"] for f in api["functions"])
    structs = {s["name"] for s in api["structs"]}
    called = set()
    for m in re.finditer(r"\b(cem_\w+)\s*\(", code):
        called.add(m.group(1))
        if m.group(1) not in functions:
            fail(f"{path}: calls {m.group(1)}, not a function of the header")
    for m in re.finditer(r":(cem_\w+)\b", code):
        called.add(m.group(1))
        if m.group(1) not in functions:
            fail(f"{path}: names :{m.group(1)}, not a function of the header")
    for m in re.finditer(r"\bccall\s*\(\s*\(\s*:(\w+)", code):
        if m.group(1) not in functions:
            fail(f"{path}: ccalls {m.group(1)}, not a function of the header")
    for name in set(re.findall(r"\bCEM_\w+", code)):
        if name not in constants and name != "CEM_FUNCTIONS":
            fail(f"{path}: names {name}, not a constant of the header")
    for s in strings:
        if re.fullmatch(r"CEM_[A-Z_]+_", s) and not any(c.startswith(s) for c in constants):
            fail(f'{path}: the option prefix "{s}" matches no constant')
    for name in sorted(n for n in set(re.findall(r"\b(cem_\w+)\b", code)) - called):
        if name not in structs and name not in functions:
            fail(f"{path}: names {name}, not a declaration of the header")

    if not re.search(r'^include\("gen_api\.jl"\)$', text, re.M):
        fail(f"{path}: does not include gen_api.jl")
    if 'const libcemdiff = get(ENV, "CEMDIFF_LIBRARY", "libcemdiff.so.$(CEM_VERSION_MAJOR)")' not in text:
        fail(f"{path}: libcemdiff is not ENV[\"CEMDIFF_LIBRARY\"] or libcemdiff.so.<major>")

    # handle types: released by a finalizer, passed to C by unsafe_convert
    for jl, c in (("Model", "model"), ("Trainer", "trainer"), ("Sampler", "sampler"),
                  ("Dataset", "dataset")):
        if not re.search(rf"^mutable struct {jl}\b", code, re.M):
            fail(f"{path}: no mutable struct {jl}")
        if not re.search(rf"Base\.unsafe_convert\(::Type\{{Ptr\{{Cvoid\}}\}}, \w+::{jl}\)", code):
            fail(f"{path}: {jl} has no unsafe_convert to Ptr{{Cvoid}}")
        close = re.search(rf"function _close_{c}\(\w+::{jl}\)\n(.*?)\nend", code, re.S)
        if close is None or f"cem_{c}_free(" not in close.group(1):
            fail(f"{path}: no _close_{c}(::{jl}) calling cem_{c}_free")
        if not re.search(rf"finalizer\(_close_{c},", code):
            fail(f"{path}: {jl} is not given the finalizer _close_{c}")
    borrowed = re.search(r"function model\(tr::Trainer\)\n(.*?)\nend", code, re.S)
    if borrowed is None or "cem_model_retain(" not in borrowed.group(1):
        fail(f"{path}: model(::Trainer) does not retain the trainer's model")

    # the progress callback: @cfunction and the function it wraps both have
    # the header's callback signature
    cb = api["callbacks"][0]
    ret = expected_type(cb["returns"], api)
    args = [expected_type(p["type"], api) for p in cb["params"]]
    cfun = re.search(r"@cfunction\((\w+), (\w+), \(([^)]*\})\)\)", code)
    if cfun is None:
        fail(f"{path}: no @cfunction for {cb['name']}")
    else:
        if cfun.group(2) != ret or split_top(cfun.group(3)) != args:
            fail(f"{path}: @cfunction({cfun.group(2)}, ({cfun.group(3)})) is not {cb['name']}'s "
                 f"({ret}, ({', '.join(args)}))")
        fn = re.search(rf"function {cfun.group(1)}\(([^)]*)\)::(\w+)", code)
        got = [a.split("::")[-1].strip() for a in split_top(fn.group(1))] if fn else None
        if fn is None or got != args or fn.group(2) != ret:
            fail(f"{path}: {cfun.group(1)} is not declared ({', '.join(args)})::{ret}")


def main():
    api_tool = load_tool("cemdiff_api")
    api = api_tool.parse_header(os.path.join(ROOT, "include", "cemdiff.h"))
    gen_path = os.path.join(ROOT, "julia", "gen_api.jl")
    mod_path = os.path.join(ROOT, "julia", "CemDiff.jl")
    with open(gen_path, encoding="utf-8") as f:
        gen = f.read()
    with open(mod_path, encoding="utf-8") as f:
        mod = f.read()
    try:
        constants = check_generated(api, gen, "julia/gen_api.jl")
        check_module(api, constants, mod, "julia/CemDiff.jl")
    except ValueError as e:
        fail(str(e))
    nfun = len(api["functions"])
    if failures:
        print(f"check_julia: {len(failures)} failed")
        return 1
    print(f"check_julia: {nfun} ccall wrappers, every constant, CemDiff.jl's calls and "
          "handles, blocks: 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
