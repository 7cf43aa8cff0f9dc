"""Write template.yaml with other parameter defaults, as JSON, for linters that take no parameters.

    python scripts/template_variant.py OUT.json SnapStart=true KmsKeyArn=arn:aws:kms:...

cfn-lint and `sam validate --lint` evaluate Conditions from the defaults; this lets `make validate`
and the template tests check the options that are off by default (SnapStart, a customer key...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
# Every option on: what `make validate` and tests/integration/test_template.py check besides the defaults.
ALL_ON = {
    "SnapStart": "true",
    "Transport": "BOTH",
    "PartnerEventSources": "aws.partner/sailpoint.com/54d68478-7e9b-46f5-ae82-89a5055df5f2/idn/identity-created",
    "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "CreateApiGatewayLogsRole": "true",
    "ApiAccessLogs": "true",
    "ReservedConcurrency": "true",
    "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
    "SubscribeTriggers": "idn:access-request-pre-approval",
    "PublicWebhookBaseUrl": "https://hooks.example.com/triggers/",
}


def variant(defaults: dict[str, str], out: Path) -> Path:
    """template.yaml with `defaults` replacing the parameters' defaults, written to `out` as JSON."""
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    unknown = set(defaults) - set(template["Parameters"])
    if unknown:
        raise SystemExit(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    for name, value in defaults.items():
        template["Parameters"][name]["Default"] = value
    for resource in template["Resources"].values():  # keep local paths valid from out's folder
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = str(ROOT / properties[key])
    out.write_text(json.dumps(template, indent=1))
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="template_variant.py",
        description=__doc__.split("\n\n")[0],
        epilog="Without NAME=VALUE pairs, every option is on: "
        + " ".join(f"{k}={v}" for k, v in ALL_ON.items()),
    )
    parser.add_argument("out", metavar="OUT.json", help="where to write the template, as JSON")
    parser.add_argument("pairs", nargs="*", metavar="NAME=VALUE", help="parameter defaults to change")
    args = parser.parse_args(argv)
    if args.out.startswith("-"):
        parser.error(f"unrecognized option {args.out}")
    malformed = [pair for pair in args.pairs if "=" not in pair]
    if malformed:
        parser.error(f"expected NAME=VALUE, got {', '.join(malformed)}")
    pairs = dict(pair.split("=", 1) for pair in args.pairs) if args.pairs else ALL_ON
    variant(pairs, Path(args.out))


if __name__ == "__main__":
    main(sys.argv[1:])
