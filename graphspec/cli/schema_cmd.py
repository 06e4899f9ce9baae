"""`graphspec schema`: the JSON Schema of the spec language, for editors' YAML language servers."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE.json", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    from graphspec.core.files import write_atomic
    from graphspec.language.spec import json_schema

    schema = json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "graphspec spec"
    text = json.dumps(schema, indent=2) + "\n"
    if args.output:
        write_atomic(args.output, text)
    else:
        print(text, end="")
    return 0
