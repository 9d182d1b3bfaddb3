#!/usr/bin/python3
"""Validates an SBOM cimg wrote against a schema of tests/sbom/ (JSON Schema
2020-12, Debian's python3-jsonschema) and checks what a schema cannot: every
SPDX identifier is unique and every relationship names a defined element; every
CycloneDX bom-ref is unique. Usage: validate.py SCHEMA DOCUMENT. Exit 1 with the
first problems on stderr."""
import json
import sys

from jsonschema import Draft202012Validator


def cross_checks(doc):
    problems = []
    if doc.get("spdxVersion"):
        ids = [doc["SPDXID"]] + [e["SPDXID"] for k in ("packages", "files") for e in doc.get(k, [])]
        if len(ids) != len(set(ids)):
            problems.append("duplicate SPDXIDs")
        known = set(ids) | {"NONE", "NOASSERTION"}
        for r in doc.get("relationships", []):
            for k in ("spdxElementId", "relatedSpdxElement"):
                if r[k] not in known:
                    problems.append("relationship names undefined element " + r[k])
        for d in doc.get("documentDescribes", []):
            if d not in known:
                problems.append("documentDescribes names undefined element " + d)
    else:
        refs = [c["bom-ref"] for c in doc.get("components", []) if "bom-ref" in c]
        if len(refs) != len(set(refs)):
            problems.append("duplicate bom-refs")
    return problems


def main():
    schema = json.load(open(sys.argv[1]))
    doc = json.load(open(sys.argv[2]))
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    problems = ["/".join(str(p) for p in e.path) + ": " + e.message for e in errors]
    problems += cross_checks(doc)
    for p in problems[:20]:
        print("invalid: " + p, file=sys.stderr)
    sys.exit(1 if problems else 0)


main()
