"""The CDN's URL-signing keys of a deployment (docs/deployment.md, "The CDN").

The template's key group has two slots, A and B (parameters CdnPublicKeyA and CdnPublicKeyB);
CdnSigningKey names the one the API signs with. Each slot's private key is the Secrets Manager
secret STACK/cdn/private-key-SLOT, which only the API's role may read. This script keeps the
three parameters in samconfig.toml (where `sam deploy` reads them) and the secrets in step:

  ensure   a deployment without a key gets key A (`just deploy` runs it before `sam deploy`)
  rotate   a new key in the empty slot signs from the next deployment; the old one stays
           trusted, so URLs already handed out keep working until they expire
  retire   the slot that does not sign is emptied (run `sam deploy` after it)
  tidy     the secrets of empty slots are deleted (after that deployment)

The private key is made here, in memory, and goes to Secrets Manager only: never to a file, the
template, a parameter or the terminal. Run with the `sam` tool venv's Python (boto3 and
cryptography): infra/cdn-key.sh wraps it. SAMCONFIG names another samconfig.toml (the tests').
"""

import json
import os
import re
import shlex
import sys
import tomllib

import boto3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SLOTS = ("A", "B")
SECTION = "[default.deploy.parameters]"


def samconfig_path():
    return os.environ.get("SAMCONFIG", "samconfig.toml")


def read_settings():
    """(stack, region, the parameter overrides as a dict) of samconfig.toml."""
    with open(samconfig_path(), "rb") as f:
        params = tomllib.load(f).get("default", {}).get("deploy", {}).get("parameters", {})
    stack = params.get("stack_name")
    region = params.get("region") or os.environ.get("AWS_REGION")
    if not stack or not region:
        sys.exit(f"{samconfig_path()} names no stack_name and region: deploy once with `just deploy`")
    raw = params.get("parameter_overrides", "")
    items = raw if isinstance(raw, list) else shlex.split(raw)
    overrides = dict(item.split("=", 1) for item in items)
    return stack, region, overrides


def write_overrides(overrides):
    """Replaces parameter_overrides in samconfig.toml's deploy section, the rest untouched."""
    path = samconfig_path()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # SAM reads Key="value" pairs separated by spaces; no value here holds a quote or backslash.
    assert not any('"' in v or "\\" in v for v in overrides.values()), "a quote in a parameter"
    value = " ".join(f'{key}="{value}"' for key, value in overrides.items())
    line = f"parameter_overrides = {json.dumps(value)}"
    start = text.find(SECTION)
    if start < 0:
        sys.exit(f"{path} has no {SECTION}: deploy once with `just deploy`")
    end = text.find("\n[", start + len(SECTION))
    end = len(text) if end < 0 else end + 1
    section = text[start:end]
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


def new_key(secrets, stack, slot):
    """A new RSA 2048 key pair; the private key stored as the slot's secret. Returns the public
    key's parameter value."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
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
        secrets.put_secret_value(SecretId=name, SecretString=private_pem)
    except secrets.exceptions.InvalidRequestException:
        # Scheduled for deletion (by hand: `tidy` deletes at once): bring it back, then replace.
        secrets.restore_secret(SecretId=name)
        secrets.put_secret_value(SecretId=name, SecretString=private_pem)
    print(f"cdn-key: key {slot} made; its private key is the secret {name}")
    return public_parameter(public_pem)


def keys(overrides):
    return {slot: overrides.get(f"CdnPublicKey{slot}", "") for slot in SLOTS}


def main(action):
    stack, region, overrides = read_settings()
    secrets = boto3.client("secretsmanager", region_name=region)
    present = {slot for slot, value in keys(overrides).items() if value}
    signing = overrides.get("CdnSigningKey", "A")
    if action == "ensure":
        if present:
            return
        overrides["CdnPublicKeyA"] = new_key(secrets, stack, "A")
        overrides["CdnSigningKey"] = "A"
    elif action == "rotate":
        if len(present) != 1 or signing not in present:
            sys.exit(
                f"cdn-key: rotate needs one key, the signing one (keys: {sorted(present) or 'none'}, "
                f"signing: {signing}); `just cdn-key retire` first"
            )
        slot = next(s for s in SLOTS if s != signing)
        overrides[f"CdnPublicKey{slot}"] = new_key(secrets, stack, slot)
        overrides["CdnSigningKey"] = slot
        print(
            f"cdn-key: key {slot} signs after the next deployment, key {signing} is still trusted; "
            "once the URLs it signed have expired (two CDN_URL_WINDOW_SECONDS), `just cdn-key retire`"
        )
    elif action == "retire":
        old = [slot for slot in present if slot != signing]
        if signing not in present or not old:
            sys.exit(f"cdn-key: nothing to retire (keys: {sorted(present)}, signing: {signing})")
        overrides[f"CdnPublicKey{old[0]}"] = ""
        print(f"cdn-key: key {old[0]} leaves the key group at the next deployment")
    elif action == "tidy":
        for slot in SLOTS:
            if slot in present:
                continue
            try:
                secrets.delete_secret(SecretId=secret_name(stack, slot), ForceDeleteWithoutRecovery=True)
                print(f"cdn-key: the secret of retired key {slot} is deleted")
            except secrets.exceptions.ResourceNotFoundException:
                pass
        return
    else:
        sys.exit("usage: cdn_key.py ensure|rotate|retire|tidy")
    write_overrides(overrides)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: cdn_key.py ensure|rotate|retire|tidy")
    main(sys.argv[1])
