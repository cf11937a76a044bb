"""Prints one setting of the deployment `sam deploy --guided` saved in samconfig.toml
(`stack_name` or `region`, from the default environment), or exits 1 when there is none.
Environment variables win: STACK_NAME for the stack, AWS_REGION (or AWS_DEFAULT_REGION) for the
region, so the recipes also work against a stack deployed from another checkout."""

import os
import sys
import tomllib

OVERRIDES = {"stack_name": ["STACK_NAME"], "region": ["AWS_REGION", "AWS_DEFAULT_REGION"]}


def main(name):
    for variable in OVERRIDES.get(name, []):
        if os.environ.get(variable):
            print(os.environ[variable])
            return
    try:
        with open("samconfig.toml", "rb") as f:
            config = tomllib.load(f).get("default", {})
    except FileNotFoundError:
        sys.exit(1)
    # `sam deploy --guided` saves under [default.deploy.parameters]; a region may also be global.
    for command in ("deploy", "global"):
        value = config.get(command, {}).get("parameters", {}).get(name)
        if value:
            print(value)
            return
    sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in OVERRIDES:
        sys.exit("usage: samconfig.py stack_name|region")
    main(sys.argv[1])
