"""Prints one setting of the deployment `sam deploy --guided` saved in samconfig.toml
(`stack_name` or `region`, from the default environment), or exits 1 when there is none.
samconfig.toml wins, since it is what `sam deploy` itself uses: a region exported in the shell
must not send the other recipes to another stack than the one deployed. Without it (a stack
deployed from another checkout), IMAGE_UPLOAD_STACK names the stack and AWS_REGION (or
AWS_DEFAULT_REGION) the region."""

import os
import sys
import tomllib

FALLBACKS = {"stack_name": ["IMAGE_UPLOAD_STACK"], "region": ["AWS_REGION", "AWS_DEFAULT_REGION"]}


def main(name):
    try:
        with open("samconfig.toml", "rb") as f:
            config = tomllib.load(f).get("default", {})
    except FileNotFoundError:
        config = {}
    # `sam deploy --guided` saves under [default.deploy.parameters]; a region may also be global.
    for command in ("deploy", "global"):
        value = config.get(command, {}).get("parameters", {}).get(name)
        if value:
            print(value)
            return
    for variable in FALLBACKS[name]:
        if os.environ.get(variable):
            print(os.environ[variable])
            return
    sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in FALLBACKS:
        sys.exit("usage: samconfig.py stack_name|region")
    main(sys.argv[1])
