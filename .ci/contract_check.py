"""Refuses a contract whose schemas hold keys that are not schema keywords.

A YAML flow mapping cut by an unquoted comma (`{description: one, two}`) parses as a
description "one" and a stray key "two": valid YAML, a silently wrong contract. Every
schema object of openapi.yaml (under `properties`, `items`, the combinators and
`components/schemas`) may hold only JSON Schema 2020-12 keywords, the OpenAPI 3.1 schema
additions, and `x-` extensions. Usage: python contract_check.py openapi.yaml
"""
import sys

import yaml

KEYWORDS = {
    # JSON Schema 2020-12: core, applicator, validation, meta-data, format, content, unevaluated
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$defs", "$comment", "$vocabulary",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items", "contains",
    "properties", "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
    "format", "contentEncoding", "contentMediaType", "contentSchema",
    # OpenAPI 3.1 schema object additions
    "discriminator", "xml", "externalDocs", "example",
}
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMAS = ("items", "not", "if", "then", "else", "contains", "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def check(schema, where, faults):
    if not isinstance(schema, dict):
        return
    for key in schema:
        if key not in KEYWORDS and not str(key).startswith("x-"):
            faults.append(f"{where}: {key!r} is not a schema keyword (an unquoted comma in a flow mapping?)")
    for key in SUBSCHEMAS:
        check(schema.get(key), f"{where}/{key}", faults)
    for key in SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            check(sub, f"{where}/{key}/{i}", faults)
    for key in SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            check(sub, f"{where}/{key}/{name}", faults)


def walk(node, where, faults):
    """Finds every `schema` (parameters, media types) and `components/schemas` entry."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key == "schema":
                check(value, here, faults)
            elif key == "schemas" and where.endswith("/components"):
                for name, schema in value.items():
                    check(schema, f"{here}/{name}", faults)
            else:
                walk(value, here, faults)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk(value, f"{where}/{i}", faults)


def main(path):
    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    faults = []
    walk(document, "", faults)
    for fault in faults:
        print(fault)
    if faults:
        sys.exit(1)
    print(f"contract: every schema key in {path} is a schema keyword")


if __name__ == "__main__":
    main(sys.argv[1])
