#!/usr/bin/env python3
"""Lists import cycles between the crate's files (src/, without tests): a file imports another
when it names a path into it (`use crate::a::b`, `crate::a::b::f(..)`, `super::x`). Exits 1
when there is a cycle. Test modules (`#[cfg(test)] mod tests { .. }` at the end of a file) are
left out: they may use what they test."""
import os, re, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.relpath(os.path.join(d, f), root)
            files[p] = open(os.path.join(d, f)).read()

def module_of(path):
    parts = path[:-3].split('/')
    if parts[-1] in ('mod', 'lib', 'main'):
        parts = parts[:-1]
    return parts

mods = {tuple(module_of(p)): p for p in files if not p.startswith('main') and not p.startswith('cli/')}
mods[()] = 'lib.rs'

# Names the crate root re-exports (`pub use a::b::{X, Y};`): `crate::X` imports a::b.
root_names = {}
for m in re.finditer(r'^pub use ([\w:]+?)(?:::\{([^}]*)\}|::(\w+));', files['lib.rs'], re.M):
    path = m.group(1).split('::')
    for name in (m.group(2).split(',') if m.group(2) else [m.group(3)]):
        root_names[name.strip()] = path + [name.strip()]

def resolve(parts):
    if parts and parts[0] in root_names:
        parts = root_names[parts[0]] + parts[1:]
    for n in range(len(parts), 0, -1):
        if tuple(parts[:n]) in mods:
            return mods[tuple(parts[:n])]
    return None

def strip_tests(src):
    i = src.find('#[cfg(test)]\nmod ')
    return src if i < 0 else src[:i]

path_re = re.compile(r'\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*|::\{)+)')
edges = {}
for p, src in files.items():
    if p.startswith('cli/') or p == 'main.rs' or p.startswith('bin/'):
        continue
    src = strip_tests(src)
    src = re.sub(r'//[^\n]*', '', src)
    me = module_of(p)
    out = set()
    for m in path_re.finditer(src):
        segs = [s for s in m.group(2).split('::') if s and s != '{']
        if m.group(1) == 'crate':
            base = []
        else:
            base = me[:-1] if not p.endswith('mod.rs') and p != 'lib.rs' else me[:-1]
            # `super` from a mod.rs is the parent of its directory module; from a file, its parent
            base = me[:-1]
            while segs and segs[0] == 'super':
                base = base[:-1]
                segs = segs[1:]
        # `use super::{a, b}` and `use crate::x::{a, b}` groups
        tail = src[m.end():m.end() + 400]
        groups = []
        if m.group(2).endswith('{'):
            inner = tail[:tail.find('}')] if '}' in tail else ''
            groups = [g.strip().split('::')[0] for g in inner.split(',') if g.strip()]
        targets = [base + segs + [g] for g in groups] or [base + segs]
        for t in targets:
            f = resolve(t)
            if f and f != p:
                out.add(f)
    edges[p] = out

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
for v in sorted(edges):
    if v not in index:
        visit(v)
for comp in sccs:
    print('cycle:', ' <-> '.join(comp))
    for a in comp:
        for b in sorted(edges[a] & set(comp)):
            print(f'    {a} -> {b}')
print(f'{len(edges)} files, {sum(len(e) for e in edges.values())} imports, {len(sccs)} cycles')
sys.exit(1 if sccs else 0)
