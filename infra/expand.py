"""Expands template.yaml (AWS SAM) to the plain CloudFormation that `sam deploy` would submit,
offline, so that checkov and the template test (tests/template/) look at what is really
deployed: the generated REST API with its OpenAPI body, methods and authorizers, the event source
mapping, the roles.

Run with the `sam` tool venv's Python (it holds samtranslator): infra/expand.py TEMPLATE OUT.
The functions' local CodeUri (the crate, built by `sam build`) is replaced by an s3:// placeholder,
as `sam package` would after uploading the zip. AWS_REGION must be set (SAM puts the region into
ARNs it generates); no credentials or network are used.
"""

import json
import logging
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no AWS managed policies by short name (every role is explicit), so
    the translator never needs IAM's list of them; asking would need credentials and a network."""

    def load(self):
        return {}


def main(source, out):
    if not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        sys.exit("expand.py: set AWS_REGION (SAM writes it into the ARNs it generates)")
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", ""))
    # The translator logs its feature toggles at INFO; only its warnings matter here.
    logging.basicConfig(level=logging.WARNING)
    # Its toggle config is fetched from AWS AppConfig when online; offline it warns about every
    # toggle it looks up and uses the defaults, which is what we want.
    logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for name, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = (
                f"s3://image-upload-placeholder/{name}.zip"
            )
    expanded = transform(template, {}, NoManagedPolicies())
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(expanded, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"expand.py: {source} -> {out} ({len(expanded['Resources'])} resources)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: expand.py TEMPLATE OUT")
    main(sys.argv[1], sys.argv[2])
