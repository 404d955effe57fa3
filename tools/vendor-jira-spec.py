#!/usr/bin/env python3
"""Extract the part of Atlassian's Jira Cloud OpenAPI document that grantledger uses.

Usage: tools/vendor-jira-spec.py SOURCE_SPEC.json EXAMPLES_DIR OUT_DIR

Writes OUT_DIR/openapi-subset.json: the document's `openapi` and `info`, the path items
listed in OPERATIONS below (only the listed methods), and every component schema they
reference, directly or through other schemas. Nothing else is changed: the schemas are
copied byte-for-byte in meaning, so the contract tests check against Atlassian's text.
It also copies the documentation examples (EXAMPLES_DIR/*.json) to OUT_DIR/examples/.

Run it again when the upstream document changes, then update PROVENANCE.md with the new
`info.version`. Standard library only.
"""
import json
import shutil
import sys
from pathlib import Path

# (method, path template): the operations the client sends and the simulator answers,
# plus the ones whose documentation examples the client's tests decode.
OPERATIONS = [
    ("get", "/rest/api/3/myself"),
    ("get", "/rest/api/3/users/search"),
    ("get", "/rest/api/3/user/search"),
    ("get", "/rest/api/3/user/bulk"),
    ("get", "/rest/api/3/user/groups"),
    ("get", "/rest/api/3/group/bulk"),
    ("get", "/rest/api/3/group/member"),
    ("post", "/rest/api/3/group"),
    ("post", "/rest/api/3/group/user"),
    ("delete", "/rest/api/3/group/user"),
    ("get", "/rest/api/3/project/search"),
    ("get", "/rest/api/3/project/{projectIdOrKey}/role"),
    ("get", "/rest/api/3/project/{projectIdOrKey}/role/{id}"),
    ("post", "/rest/api/3/project/{projectIdOrKey}/role/{id}"),
    ("delete", "/rest/api/3/project/{projectIdOrKey}/role/{id}"),
    ("get", "/rest/api/3/project/{projectIdOrKey}/roledetails"),
    ("get", "/rest/api/3/role"),
    ("get", "/rest/api/3/applicationrole"),
    ("get", "/rest/api/3/auditing/record"),
]

REF_PREFIX = "#/components/schemas/"


def refs_in(value, out):
    """Collects the schema names that `value` references."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith(REF_PREFIX):
                raise SystemExit(f"unexpected reference {ref!r}: extend the extractor")
            out.add(ref[len(REF_PREFIX):])
        for v in value.values():
            refs_in(v, out)
    elif isinstance(value, list):
        for v in value:
            refs_in(v, out)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    source, examples, out_dir = (Path(a) for a in sys.argv[1:])
    spec = json.loads(source.read_text(encoding="utf-8"))

    paths = {}
    for method, path in OPERATIONS:
        item = spec["paths"].get(path, {})
        if method not in item:
            raise SystemExit(f"{method.upper()} {path} is not in {source}")
        kept = paths.setdefault(path, {})
        if "parameters" in item:
            kept["parameters"] = item["parameters"]
        kept[method] = item[method]

    wanted, seen = set(), set()
    refs_in(paths, wanted)
    schemas = spec["components"]["schemas"]
    while wanted - seen:
        name = sorted(wanted - seen)[0]
        seen.add(name)
        if name not in schemas:
            raise SystemExit(f"schema {name} is referenced but not defined")
        refs_in(schemas[name], wanted)

    subset = {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "paths": paths,
        "components": {"schemas": {n: schemas[n] for n in sorted(seen)}},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "openapi-subset.json").write_text(
        json.dumps(subset, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    ex_out = out_dir / "examples"
    ex_out.mkdir(exist_ok=True)
    for f in sorted(examples.glob("*.json")):
        shutil.copyfile(f, ex_out / f.name)
    print(f"{len(paths)} paths, {sum(len(v) for v in paths.values())} operations, "
          f"{len(seen)} schemas -> {out_dir}")


if __name__ == "__main__":
    main()
