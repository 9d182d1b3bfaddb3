#!/usr/bin/env python3
"""Lists C++ function definitions longer than a limit (default 80 lines).

Usage: scripts/function_lengths.py [--max N] [--allow FILE] [PATHS...]

A function is a brace block opened after a signature (text with a closing
parenthesis, not a class, struct, enum, namespace, or an initializer after
'='), directly inside a namespace or a class. Its length counts from the
signature's first line to the closing brace. Test files (*_test.cc) are
skipped: test bodies are exempt. With --allow, functions named in FILE
("path:name" per line) are reported but do not fail; an entry that no longer
matches a long function fails, so the list only shrinks.
"""
import argparse
import os
import re
import sys

SKIP_DIRS = {"build", "build-asan", "build-tsa", ".git"}


def strip_code(text):
    """Blanks out comments, string and char literals (keeping newlines)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ")" + m.group(1) + '"'
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    text = strip_code(open(path, encoding="utf-8", errors="replace").read())
    stack = []  # kinds of open braces: ns, class, func, other
    found = []
    stmt_start = 0  # offset where the current statement/signature began
    line_of = lambda off: text.count("\n", 0, off) + 1
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{":
            head = text[stmt_start:i].strip()
            inside_func = any(k[0] in ("func", "other") for k in stack)
            if inside_func:
                kind = "other"
            elif re.search(r"\b(namespace)\b", head) or head.startswith("extern"):
                kind = "ns"
            elif re.match(r"^(template\s*<.*>\s*)?(class|struct|union|enum)\b", head, re.S) and ")" not in head.split(":")[0]:
                kind = "class"
            elif ")" in head and not head.rstrip().endswith("=") and not re.search(r"=\s*$", head):
                kind = "func"
                name = re.findall(r"([~\w:]+)\s*\(", head)
                found.append([path, name[0] if name else "?", line_of(stmt_start + len(text[stmt_start:i]) - len(text[stmt_start:i].lstrip())), None])
            else:
                kind = "other"
            stack.append((kind, len(found) - 1 if kind == "func" else None))
            stmt_start = i + 1
        elif c == "}":
            if stack:
                kind, idx = stack.pop()
                if kind == "func":
                    found[idx][3] = line_of(i)
            stmt_start = i + 1
        elif c == ";":
            stmt_start = i + 1
        elif c == ":" and text.startswith(("public:", "private:", "protected:"), max(0, i - 9)) and text[i - 1].isalpha():
            stmt_start = i + 1
        elif c == "#" and (i == 0 or text[i - 1] == "\n"):
            j = text.find("\n", i)
            while j > 0 and text[j - 1] == "\\":
                j = text.find("\n", j + 1)
            i = len(text) if j < 0 else j
            stmt_start = i
            continue
        i += 1
    stack_funcs = [f for f in found if f[3] is not None]
    # Nested functions (inside a class inside a function) are part of it.
    return [(p, n, a, b - a + 1) for p, n, a, b in stack_funcs]


def sources(paths):
    for root in paths:
        if os.path.isfile(root):
            yield root
            continue
        for d, dirs, files in os.walk(root):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
            for f in sorted(files):
                if f.endswith((".cc", ".h")) and not f.endswith("_test.cc"):
                    yield os.path.join(d, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=80)
    ap.add_argument("--allow")
    ap.add_argument("paths", nargs="*", default=["."])
    a = ap.parse_args()
    allow = set()
    if a.allow:
        for line in open(a.allow):
            line = line.split("#")[0].strip()
            if line:
                allow.add(line)
    long_ones = []
    for path in sources(a.paths):
        rel = os.path.relpath(path)
        for p, name, start, n in functions(path):
            if n > a.max:
                long_ones.append((rel, name, start, n))
    failed = False
    seen = set()
    for rel, name, start, n in sorted(long_ones, key=lambda x: -x[3]):
        key = f"{rel}:{name}"
        seen.add(key)
        tag = "allowed" if key in allow else "TOO LONG"
        failed |= key not in allow
        print(f"{rel}:{start}: {name}: {n} lines ({tag})")
    for key in sorted(allow - seen):
        print(f"{key}: listed in {a.allow} but no longer over {a.max} lines: remove it")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
