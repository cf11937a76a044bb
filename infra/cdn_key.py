"""The CDN's URL-signing keys of a deployment (docs/deployment.md, "The signing key").

The template's key group has two slots, A and B (parameters CdnPublicKeyA and CdnPublicKeyB);
CdnSigningKey names the one the API signs with. Each slot's private key is the Secrets Manager
secret STACK/cdn/private-key-SLOT, which the API's role is granted to read. This script keeps the
three parameters in samconfig.toml (where `sam deploy` reads them) and the secrets in step:

  ensure   a deployment without a key gets key A (`just deploy` runs it before `sam deploy`);
           a key whose secret is gone is an error
  add      a new key in the empty slot, trusted from the next deployment; A still signs
  wait     waits until CloudFront has deployed the distribution (a key group change reaches
           every edge location)
  switch   the other key signs from the next deployment (both must be there)
  retire   the slot that does not sign is emptied (run `sam deploy` after it)
  tidy     the secrets of empty slots are deleted (after that deployment), never the one the
           deployed stack signs with
  forget   the key parameters are removed from samconfig.toml (`just destroy`, after deleting
           the secrets: a new stack makes new keys)

Keys are ECDSA P-256 (CDN_KEY_TYPE=rsa: RSA 2048). `just cdn-key rotate` is add, deploy, wait,
switch, deploy: the new key is trusted at every edge before any URL is signed with it.
`just cdn-key retire` is retire, deploy, tidy.

`add` and `switch` check samconfig.toml against the deployed stack first: a slot the stack holds
is never given a new key (CloudFront cannot change a key in place, and the secret the running API reads
would no longer match the key CloudFront trusts). The private key is made here, in memory, and
goes to Secrets Manager only: never to a file, the template, a parameter or the terminal. Run
with the `sam` tool venv's Python (boto3 and cryptography): infra/cdn-key.sh wraps it. SAMCONFIG
names another samconfig.toml (the tests').
"""

import json
import os
import re
import shlex
import sys
import tomllib

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from samconfig import setting

SLOTS = ("A", "B")
KEY_PARAMETERS = ("CdnPublicKeyA", "CdnPublicKeyB", "CdnSigningKey")
SECTION = "[default.deploy.parameters]"


class Refused(Exception):
    """An action that would break the deployment; the message says why and what to do."""


def samconfig_path():
    return os.environ.get("SAMCONFIG", "samconfig.toml")


def read_overrides():
    """samconfig.toml's parameter overrides, as a dict in their order."""
    with open(samconfig_path(), "rb") as f:
        params = tomllib.load(f).get("default", {}).get("deploy", {}).get("parameters", {})
    raw = params.get("parameter_overrides", "")
    items = raw if isinstance(raw, list) else shlex.split(raw)
    return dict(item.split("=", 1) for item in items)


def write_overrides(overrides):
    """Replaces parameter_overrides in samconfig.toml's deploy section, the rest untouched."""
    path = samconfig_path()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # SAM reads Key="value" pairs separated by spaces; no value here holds a quote or backslash.
    for key, value in overrides.items():
        if '"' in value or "\\" in value:
            raise Refused(f"the parameter {key} in {path} holds a quote or backslash")
    value = " ".join(f'{key}="{value}"' for key, value in overrides.items())
    line = f"parameter_overrides = {json.dumps(value)}"
    start = text.find(SECTION)
    if start < 0:
        raise Refused(f"{path} has no {SECTION}: deploy once with `just deploy`")
    end = text.find("\n[", start + len(SECTION))
    end = len(text) if end < 0 else end + 1
    section = text[start:end]
    # The whole setting: one line, or an array over several (up to the next key or the end).
    pattern = re.compile(r"^parameter_overrides\s*=.*?(?=^\w|\Z)", re.M | re.S)
    if pattern.search(section):
        section = pattern.sub(lambda _: line + "\n", section, count=1)
    else:
        section = section.replace(SECTION + "\n", SECTION + "\n" + line + "\n", 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:start] + section + text[end:])


def secret_name(stack, slot):
    return f"{stack}/cdn/private-key-{slot}"


def public_parameter(public_pem):
    """The PEM's base64 lines joined by commas: what CdnPublicKeyA/B hold (the template
    rebuilds the PEM from them; a parameter holds no line breaks)."""
    return ",".join(line for line in public_pem.splitlines() if line and not line.startswith("-----"))


def keys(parameters):
    """The slots that hold a key."""
    return {slot for slot in SLOTS if parameters.get(f"CdnPublicKey{slot}")}


def deployed_parameters(cloudformation, stack):
    """The deployed stack's key parameters, or None when there is no stack yet."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as e:
        if "does not exist" in str(e):
            return None
        raise
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found[0].get("Parameters", [])}
    return {key: parameters.get(key, "") for key in KEY_PARAMETERS}


def check_in_step(overrides, deployed):
    """Refuses when samconfig.toml and the deployed stack disagree about the keys."""
    if deployed is None:
        return
    local = {key: overrides.get(key, "") for key in KEY_PARAMETERS}
    local["CdnSigningKey"] = local["CdnSigningKey"] or "A"
    deployed = dict(deployed, CdnSigningKey=deployed["CdnSigningKey"] or "A")
    differ = [key for key in KEY_PARAMETERS if local[key] != deployed[key]]
    if differ:
        raise Refused(
            f"samconfig.toml and the deployed stack disagree about {', '.join(differ)}: a deployment "
            "did not finish. Deploy again (`just deploy`) to bring the stack to samconfig.toml, or "
            "copy the stack's values into samconfig.toml, then run this again"
        )


def secret_exists(secrets, stack, slot):
    try:
        secrets.describe_secret(SecretId=secret_name(stack, slot))
        return True
    except secrets.exceptions.ResourceNotFoundException:
        return False


def new_key(secrets, stack, slot):
    """A new key pair, ECDSA P-256 (signing costs a third of RSA 2048's, docs/decisions/0024) or,
    with CDN_KEY_TYPE=rsa, RSA 2048; the private key stored as the slot's secret. Returns the
    public key's parameter value."""
    kind = (os.environ.get("CDN_KEY_TYPE") or "ecdsa").lower()
    if kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise Refused(f"CDN_KEY_TYPE is {kind!r}: it is ecdsa (the default) or rsa")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    name = secret_name(stack, slot)
    try:
        secrets.create_secret(
            Name=name,
            Description=f"{stack}: the private key of CDN URL signing key {slot} (infra/cdn_key.py)",
            SecretString=private_pem,
        )
    except secrets.exceptions.ResourceExistsException:
        # A retired slot's secret that `tidy` has not deleted yet: nothing trusts it any more.
        secrets.put_secret_value(SecretId=name, SecretString=private_pem)
    except secrets.exceptions.InvalidRequestException:
        # Scheduled for deletion (by hand: `tidy` deletes at once): bring it back, then replace.
        secrets.restore_secret(SecretId=name)
        secrets.put_secret_value(SecretId=name, SecretString=private_pem)
    print(f"cdn-key: key {slot} made; its private key is the secret {name}")
    return public_parameter(public_pem)


def run(action):
    stack = setting("stack_name")
    region = setting("region")
    if not stack or not region:
        raise Refused(f"{samconfig_path()} names no stack_name and region: deploy once with `just deploy`")
    overrides = read_overrides()
    if action == "forget":
        for key in KEY_PARAMETERS:
            overrides.pop(key, None)
        write_overrides(overrides)
        print("cdn-key: the key parameters are gone from samconfig.toml; the next deployment makes a new key")
        return
    secrets = boto3.client("secretsmanager", region_name=region)
    if action == "wait":
        cloudformation = boto3.client("cloudformation", region_name=region)
        distribution = cloudformation.describe_stack_resource(
            StackName=stack, LogicalResourceId="CdnDistribution"
        )["StackResourceDetail"]["PhysicalResourceId"]
        print(f"cdn-key: waiting until CloudFront has deployed {distribution} to every edge (minutes)")
        boto3.client("cloudfront").get_waiter("distribution_deployed").wait(Id=distribution)
        return
    deployed = deployed_parameters(boto3.client("cloudformation", region_name=region), stack)
    present = keys(overrides)
    signing = overrides.get("CdnSigningKey") or "A"
    if action in ("add", "switch"):
        # A new key, or a new signing key, only from where the stack is: never into a slot the
        # stack holds, never to a key it does not trust.
        check_in_step(overrides, deployed)
    if action == "ensure":
        # Not checked against the stack as a whole: `just deploy` runs it, also to finish a
        # deployment that did not.
        if not present and deployed and keys(deployed):
            raise Refused(
                "the deployed stack has CDN keys that samconfig.toml does not: copy CdnPublicKeyA, "
                "CdnPublicKeyB and CdnSigningKey from the stack's parameters into samconfig.toml"
            )
        if not present:
            overrides["CdnPublicKeyA"] = new_key(secrets, stack, "A")
            overrides["CdnSigningKey"] = "A"
        elif not secret_exists(secrets, stack, signing):
            raise Refused(
                f"key {signing} signs, but its secret {secret_name(stack, signing)} is gone: the API "
                "could not sign. If the stack was destroyed, `infra/cdn-key.sh forget`; otherwise rotate "
                "(`just cdn-key rotate`) and retire the lost key"
            )
        else:
            return
    elif action == "add":
        if len(present) != 1 or signing not in present:
            raise Refused(
                f"add needs one key, the signing one (keys: {sorted(present) or 'none'}, signing: "
                f"{signing}); `just cdn-key retire` first"
            )
        slot = next(s for s in SLOTS if s != signing)
        overrides[f"CdnPublicKey{slot}"] = new_key(secrets, stack, slot)
        overrides["CdnSigningKey"] = signing
        print(f"cdn-key: key {slot} is trusted after the next deployment; key {signing} still signs")
    elif action == "switch":
        if present != set(SLOTS):
            raise Refused(f"switch needs both keys (keys: {sorted(present)}); `just cdn-key rotate` adds one")
        new = next(s for s in SLOTS if s != signing)
        overrides["CdnSigningKey"] = new
        print(
            f"cdn-key: key {new} signs after the next deployment; key {signing} stays trusted until "
            "`just cdn-key retire`, once the URLs it signed have expired (two CDN_URL_WINDOW_SECONDS)"
        )
    elif action == "retire":
        old = [slot for slot in sorted(present) if slot != signing]
        if signing not in present:
            raise Refused(f"key {signing} signs but is not in samconfig.toml")
        if not old:
            print("cdn-key: one key, the signing one: nothing to retire")
            return
        overrides[f"CdnPublicKey{old[0]}"] = ""
        print(f"cdn-key: key {old[0]} leaves the key group at the next deployment")
    elif action == "tidy":
        for slot in SLOTS:
            # Never the secret of a key samconfig.toml still names, or that the stack signs with.
            if slot in present or (deployed and (deployed["CdnSigningKey"] or "A") == slot):
                continue
            try:
                secrets.delete_secret(SecretId=secret_name(stack, slot), ForceDeleteWithoutRecovery=True)
                print(f"cdn-key: the secret of retired key {slot} is deleted")
            except secrets.exceptions.ResourceNotFoundException:
                pass
        return
    else:
        raise Refused("usage: cdn_key.py ensure|add|wait|switch|retire|tidy|forget")
    write_overrides(overrides)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: cdn_key.py ensure|add|wait|switch|retire|tidy|forget")
    try:
        run(sys.argv[1])
    except Refused as refused:
        sys.exit(f"cdn-key: {refused}")
