#!/usr/bin/env python3
"""Where the backends' CPU time goes, per append: product vs baseline.

Usage: profile_buckets.py PRODUCT_STACKS PRODUCT_APPENDS BASELINE_STACKS BASELINE_APPENDS HZ

*_STACKS are `perf script -F comm,tid,ip,sym,dso` outputs of cpu-clock samples
(dwarf call graphs) taken on the pgbench backends only; *_APPENDS is how many
appends they made while perf was recording; HZ the sampling frequency.  Each
sample is put in one bucket by the named frames on its stack (the postgres
binary is stripped, so only its exported functions have names), and each
bucket is reported as microseconds of CPU per append.
"""
import collections
import sys


def load(path):
    samples, cur = [], None
    with open(path) as f:
        for line in f:
            if not line.strip():
                if cur is not None:
                    samples.append(cur)
                cur = None
                continue
            if not line.startswith((' ', '\t')):
                cur = []
                continue
            parts = line.strip().split(None, 1)
            rest = parts[1] if len(parts) > 1 else ''
            cur.append(rest.rsplit(' (', 1)[0])
    if cur:
        samples.append(cur)
    return samples


def inner(frames):
    """What part of executing a statement the leaf-side frames are in."""
    for names, label in ((('ExecInsertIndexTuples',), 'index inserts'),
                         (('heap_insert',), 'heap insert'),
                         (('ExecConstraints',), 'constraint checks'),
                         (('nextval_internal',), 'nextval'),
                         (('gen_random_uuid', 'pg_strong_random'), 'uuid'),
                         (('_bt_first', 'btgettuple', 'index_getnext_tid', 'index_fetch_heap'), 'index scans'),
                         (('standard_ExecutorStart',), 'executor start'),
                         (('standard_ExecutorEnd', 'FreeExecutorState'), 'executor end'),
                         (('standard_ExecutorRun',), 'executor run, other')):
        if any(n in frames for n in names):
            return label
    return 'other'


def bucket(s):
    for anchor, label in (('RunLookup', 'es: stream probe query (SPI)'),
                          ('EsIndexFirst', 'es: stream probe (direct index look-ups)'),
                          ('RunWrite', 'es: INSERT into es.events (SPI)')):
        if anchor in s:
            return label, inner(s[:s.index(anchor)])
    if 'NewEventId' in s:
        return 'es: event id (pg_strong_random)', ''
    if 'XLogFlush' in s and 'CommitTransactionCommand' not in s:
        return 'es: XLogFlush outside commit', ''
    if any(n.startswith('EsNextGlobalPosition') for n in s):
        return 'es: global position (seq lock, nextval)', ''
    if 'EsLockStream' in s:
        return 'es: stream lock', ''
    if 'AppendOne' in s or 'es_append' in s:
        return 'es: rest of es.append', ''
    if 'CommitTransactionCommand' in s:
        return 'commit', ''
    if any(n in s for n in ('pq_getbyte', 'secure_read', 'WaitEventSetWait')):
        return 'client: wait/read', ''
    if any(n in s for n in ('secure_write', 'pq_flush', 'socket_flush')):
        return 'client: send', ''
    if any(n in s for n in ('standard_ExecutorRun', 'standard_ExecutorStart', 'standard_ExecutorEnd')):
        return 'top-level statement', inner(s)
    return 'other (bind, portal, snapshot, ...)', ''


def main():
    prod, prod_n, base, base_n, hz = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    res, totals = {}, {}
    for name, path, n in (('product', prod, prod_n), ('baseline', base, base_n)):
        samples = load(path)
        per = 1e6 / hz / n          # us of CPU per append, per sample
        c = collections.Counter(bucket(s) for s in samples)
        res[name] = {k: v * per for k, v in c.items()}
        totals[name] = len(samples) * per
    print('backend CPU per append: product %.1f us, baseline %.1f us (baseline/product %.2f)'
          % (totals['product'], totals['baseline'], totals['baseline'] / totals['product']))
    print()
    print('%-42s %-20s %9s %9s' % ('bucket (us CPU per append)', '', 'product', 'baseline'))
    keys = sorted(set(res['product']) | set(res['baseline']),
                  key=lambda k: (-max(res['product'].get((k[0], j), 0) + res['baseline'].get((k[0], j), 0)
                                      for j in [k[1]]), k))
    groups = collections.defaultdict(lambda: [0.0, 0.0])
    for k in set(res['product']) | set(res['baseline']):
        groups[k[0]][0] += res['product'].get(k, 0)
        groups[k[0]][1] += res['baseline'].get(k, 0)
    for g, (p, b) in sorted(groups.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        print('%-42s %-20s %9.1f %9.1f' % (g, '', p, b))
        for k in sorted(k for k in keys if k[0] == g and k[1]):
            print('%-42s %-20s %9.1f %9.1f' % ('', k[1], res['product'].get(k, 0), res['baseline'].get(k, 0)))


if __name__ == '__main__':
    main()
