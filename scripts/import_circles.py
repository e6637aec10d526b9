#!/usr/bin/env python3
"""Finds import circles between the files of src/ (docs/architecture.md).

A file "uses" another when it names (in a `use` or an inline `crate::`/`super::`
path) an item defined there; a name re-exported by a `mod.rs` is followed to
the file that defines it, and a `mod.rs` that only declares and re-exports
uses nothing. Test modules (`#[cfg(test)] mod tests`) are left out. Exits 1
and prints each circle (a strongly connected set of files) if there is one.

Written by hand: cargo-modules and similar tools work on modules, not files,
and need a build; this reads the source in well under a second.

    python3 scripts/import_circles.py [SRC_DIR]
"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3].split(os.sep)
            if rel[-1] == 'mod': rel = rel[:-1]
            if rel in (['lib'],): rel = []
            if rel == ['main']: continue
            files[tuple(rel)] = p
def strip_comments(s):
    s = re.sub(r'//[^\n]*', '', s)
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', s)
    return s
def no_tests(s):
    at = s.find('#[cfg(test)]\nmod tests')
    return s if at < 0 else s[:at]
src = {m: strip_comments(no_tests(open(p).read())) for m, p in files.items()}
def pure(s):
    body = re.sub(r'#!?\[[^\]]*\]', '', s)
    body = re.sub(r'\b(pub(\([^)]*\))?\s+)?use\s+[^;]+;', '', body)
    body = re.sub(r'\b(pub(\([^)]*\))?\s+)?mod\s+\w+;', '', body)
    return body.strip() == ''

# items defined per module
defs = {}
for m, s in src.items():
    names = set(re.findall(r'\b(?:fn|struct|enum|trait|type|const|static|macro_rules!|union)\s+([A-Za-z_]\w*)', s))
    names |= set(re.findall(r'\bmod\s+(\w+)', s))
    defs[m] = names
def expand_use(body):
    # expand a::{b, c::{d, e}} into paths
    body = body.strip()
    m = re.match(r'^(.*?)\{(.*)\}$', body, re.S)
    if not m:
        return [body]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ''
    for ch in inner:
        if ch == '{': depth += 1
        if ch == '}': depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
        else: cur += ch
    parts.append(cur)
    out = []
    for part in parts:
        part = part.strip()
        if part: out += [prefix + e for e in expand_use(part)]
    return out
def resolve(mod, path):
    segs = [s for s in path.split('::') if s]
    segs = [re.sub(r'\s+as\s+\w+$', '', s).strip() for s in segs]
    if not segs: return None
    # module context: for file modules the "self" module is mod itself
    cur = list(mod)
    if segs[0] == 'crate': cur = []; segs = segs[1:]
    elif segs[0] == 'super':
        while segs and segs[0] == 'super': cur = cur[:-1]; segs = segs[1:]
    elif segs[0] == 'self': segs = segs[1:]
    else:
        # relative child module?
        if tuple(cur + [segs[0]]) in files: pass
        else: return None
    full = cur + segs
    # longest module prefix
    for k in range(len(full), -1, -1):
        if tuple(full[:k]) in files:
            return tuple(full[:k]), full[k:]
    return None
reexports = {}  # (mod, name) -> target module
uses = {m: set() for m in src}
def target_of(mod, name_path, seen=0):
    r = resolve(mod, name_path)
    if not r: return None
    tmod, rest = r
    if not rest or rest == ['self'] or rest == ['*']: return tmod
    name = rest[0]
    if name in defs[tmod]: return tmod
    # re-export in tmod?
    for p in use_paths.get(tmod, []):
        last = re.split(r'\s+as\s+', p)[-1].split('::')[-1].strip()
        if last == name and seen < 10:
            t = target_of(tmod, p, seen + 1)
            if t: return t
    return tmod
use_paths = {}
for m, s in src.items():
    ps = []
    for u in re.findall(r'\buse\s+([^;]+);', s):
        ps += expand_use(u.replace('\n', ' '))
    use_paths[m] = [p.strip() for p in ps]
for m, s in src.items():
    if pure(s): continue
    paths = list(use_paths[m])
    paths += re.findall(r'\b((?:crate|super|self)(?:::\w+)+)', s)
    for p in paths:
        if all(seg in ('super','self','crate') for seg in p.split('::')): continue
        t = target_of(m, p)
        if t is not None and t != m and not (len(t) < len(m) and m[:len(t)] == t and False):
            # a child using its parent: only counts if parent defines the name
            uses[m].add(t)
# mod.rs files that only declare and re-export: edges to their children don't count
# Tarjan SCC
index = {}; low = {}; stack = []; on = set(); sccs = []; i = [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in uses[v]:
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in list(uses):
    if v not in index: strong(v)
name = lambda m: files[m]
for c in sccs:
    print('circle:', ', '.join(sorted(name(m) for m in c)))
    for m in c:
        print('   ', name(m), '->', ', '.join(sorted(name(t) for t in uses[m] if t in c)))
print(f'{len(sccs)} import circles')
sys.exit(1 if sccs else 0)
