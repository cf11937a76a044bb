"""Prints one setting of the deployment `sam deploy --guided` saved in samconfig.toml
(`stack_name` or `region`, from the default environment), or exits 1 when there is none.
samconfig.toml wins, since it is what `sam deploy` itself uses: a region exported in the shell
must not send the other recipes to another stack than the one deployed. Without it (a stack
deployed from another checkout), IMAGE_UPLOAD_STACK names the stack and AWS_REGION (or
AWS_DEFAULT_REGION) the region. SAMCONFIG names another file (the tests').

infra/cdn_key.py imports `setting` from here, so both find the stack and region alike."""

import os
import sys
import tomllib

FALLBACKS = {"stack_name": ["IMAGE_UPLOAD_STACK"], "region": ["AWS_REGION", "AWS_DEFAULT_REGION"]}


def setting(name, path=None):
    """The setting `name`, or None. `path` is samconfig.toml unless SAMCONFIG names another."""
    path = path or os.environ.get("SAMCONFIG", "samconfig.toml")
    try:
        with open(path, "rb") as f:
            config = tomllib.load(f).get("default", {})
    except FileNotFoundError:
        config = {}
    # `sam deploy --guided` saves under [default.deploy.parameters]; a region may also be global.
    for command in ("deploy", "global"):
        value = config.get(command, {}).get("parameters", {}).get(name)
        if value:
            return value
    for variable in FALLBACKS[name]:
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def main(name):
    value = setting(name)
    if value is None:
        sys.exit(1)
    print(value)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in FALLBACKS:
        sys.exit("usage: samconfig.py stack_name|region")
    main(sys.argv[1])
