"""The JSON-lines logs of the benchmark scripts, grouped for their tables."""
import json
from collections import defaultdict


def records(path):
    """Every non-blank line of the log, parsed."""
    return [json.loads(line) for line in open(path) if line.strip()]


def by_preset(recs, keys):
    """{(config, batch): {(impl, key): [values...]}} for the given keys, in the order the presets first appear."""
    rows = defaultdict(lambda: defaultdict(list))
    for r in recs:
        for k in keys:
            if r.get(k) is not None:
                rows[(r["config"], r["batch"])][(r["impl"], k)].append(r[k])
    return rows
