"""Validates an SBOM with the reference libraries others wrote: CycloneDX
with cyclonedx-python-lib's strict JSON-schema validator, SPDX with
spdx-tools' parser and full-document validator. Prints every error and
exits 1 when there is one.

    python3 validate.py cyclonedx|spdx FILE
"""
import sys


def cyclonedx(path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(path).read())
    return [] if error is None else [str(error).splitlines()[0]]


def spdx(path):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    document = parse_file(path)
    return [m.validation_message for m in validate_full_spdx_document(document, "SPDX-2.3")]


errors = {"cyclonedx": cyclonedx, "spdx": spdx}[sys.argv[1]](sys.argv[2])
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
