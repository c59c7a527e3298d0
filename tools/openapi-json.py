#!/usr/bin/env python3
"""openapi-json.py -- the OpenAPI document converted from YAML to JSON.

Usage: python3 tools/openapi-json.py IN.yaml OUT.json

The build embeds the result in the binary (served at /openapi.json) and the
integration tests' response checker reads it. Needs only python3 and PyYAML
(Debian: python3-yaml), so building l2d needs no npm.

PyYAML reads YAML 1.1, where `yes`, `on`, `010` or `1:20` are a bool, an
octal or a base-60 number; OpenAPI 3.1 documents are YAML 1.2. So plain
scalars are resolved here with the YAML 1.2 core schema (what js-yaml and
the OpenAPI tools read), and what JSON cannot say -- a duplicate key, a
key that is not a string or an integer, NaN or infinity -- stops the
conversion instead of being written some other way. The output depends only
on the document: keys in document order, two-space indent, UTF-8, one
newline at the end; it is written to a temporary file and renamed, so OUT
is never left half written.
"""
import json
import os
import re
import sys

import yaml


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit resolvers."""


CoreLoader.yaml_implicit_resolvers = {}


def _resolver(tag, pattern, first):
    CoreLoader.add_implicit_resolver(
        "tag:yaml.org,2002:" + tag, re.compile(pattern), list(first))


_resolver("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_resolver("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_resolver("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789")
_resolver("float",
          r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
          r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
          "-+0123456789.")
_resolver("merge", r"^<<$", "<")


def _fail(node, what):
    raise yaml.constructor.ConstructorError(None, None, what, node.start_mark)


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # YAML 1.2: 010 is ten, not an octal eight


def _construct_float(loader, node):
    text = loader.construct_scalar(node)
    if text.lstrip("+-").lower() in (".inf", ".nan"):
        _fail(node, "JSON has no NaN or infinity")
    return float(text)


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    out = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            _fail(key_node, "a key that is not a string or an integer: %r" % (key,))
        key = str(key)
        if key in out:
            _fail(key_node, "duplicate key %r" % key)
        out[key] = loader.construct_object(value_node, deep=True)
    return out


CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
CoreLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
CoreLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def convert(text):
    """The JSON text of the YAML document text."""
    doc = yaml.load(text, Loader=CoreLoader)  # noqa: S506 (a SafeLoader)
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s IN.yaml OUT.json\n" % argv[0])
        return 2
    src, dst = argv[1], argv[2]
    try:
        with open(src, encoding="utf-8") as f:
            out = convert(f.read())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        sys.stderr.write("openapi-json: %s: %s\n" % (src, e))
        return 1
    tmp = "%s.tmp.%d" % (dst, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(out)
        os.replace(tmp, dst)
    except OSError as e:
        sys.stderr.write("openapi-json: %s: %s\n" % (dst, e))
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
