#!/usr/bin/env python3
"""Fails when sibling modules of a crate import each other in a circle.

For every module of protocol, store, node and sim (test modules left out), each
`crate::a::b` and `super::x` path it names is an edge to the sibling module
that holds the target, at the level where the two paths part. A strongly
connected set of more than one sibling is a cycle: two modules that cannot be
understood, moved or tested apart. Doc comments do not count.

    python3 scripts/check-cycles.py        # prints each cycle; exit 1 if any
"""
import collections
import os
import re
import sys

CRATES = ["protocol/src", "store/src", "node/src", "sim/src"]


def modules(src_dir):
    out = {}
    for root, _, files in os.walk(src_dir):
        for f in files:
            if not f.endswith(".rs") or f == "tests.rs" or f.endswith("_tests.rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src_dir)
            parts = rel[:-3].split("/")
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            with open(os.path.join(root, f)) as fh:
                text = fh.read()
            cut = text.find("#[cfg(test)]")
            if cut >= 0:
                text = text[:cut]
            text = "\n".join(l for l in text.split("\n") if not l.strip().startswith("//"))
            out[tuple(parts)] = text
    return out


def sibling_edges(mods):
    edges = collections.defaultdict(set)
    for m, text in mods.items():
        targets = [tuple(x.group(1).split("::")) for x in re.finditer(r"crate::((?:\w+::)*\w+)", text)]
        for x in re.finditer(r"\b((?:super::)+)((?:\w+::)*\w+)", text):
            up = x.group(1).count("super::")
            base = m[: len(m) - up] if up <= len(m) else ()
            targets.append(base + tuple(x.group(2).split("::")))
        for t in targets:
            k = 0
            while k < len(m) and k < len(t) and m[k] == t[k]:
                k += 1
            if k < len(m) and k < len(t):
                edges[m[: k + 1]].add(t[: k + 1])
    return edges


def cycles(edges):
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def main():
    sys.setrecursionlimit(10_000)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    bad = 0
    for crate in CRATES:
        for c in cycles(sibling_edges(modules(os.path.join(root, crate)))):
            print(f"import cycle in {crate}: " + " <-> ".join("::".join(m) for m in c))
            bad += 1
    if bad:
        print(f"{bad} import cycle(s): move what both sides need into a module of its own")
        return 1
    print("no import cycles between sibling modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
