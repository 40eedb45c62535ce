"""The bucket's CORS rule (domain.uploads.stores.bucket_cors_rule_apply), against moto's S3."""

from __future__ import annotations

import boto3
from django.core.management import call_command

from domain.uploads.stores import CORS_RULE_ID, bucket_cors_rule_apply
from tests.domain.test_s3_storage import BUCKET, s3  # noqa: F401 (fixture)

THEIRS = {"ID": "their-uploads", "AllowedMethods": ["PUT"], "AllowedOrigins": ["https://example.com"]}


def _rules(moto_endpoint) -> dict[str, dict]:
    client = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip
    return {rule["ID"]: rule for rule in client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]}


def test_the_bucket_answers_cross_origin_reads_once_and_keeps_other_rules(s3, moto_endpoint):  # noqa: F811
    client = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [THEIRS]})

    assert bucket_cors_rule_apply() is True
    rules = _rules(moto_endpoint)
    assert set(rules) == {"their-uploads", CORS_RULE_ID}
    assert rules["their-uploads"]["AllowedMethods"] == ["PUT"]
    assert rules[CORS_RULE_ID]["AllowedMethods"] == ["GET", "HEAD"]
    assert rules[CORS_RULE_ID]["AllowedOrigins"] == ["*"]
    assert bucket_cors_rule_apply() is False  # applied twice: nothing changes
    assert _rules(moto_endpoint) == rules


def test_storage_lifecycle_applies_the_cors_rule_with_the_lifecycle_rule(s3, moto_endpoint, capsys):  # noqa: F811
    call_command("storage_lifecycle")
    call_command("storage_lifecycle")
    out = capsys.readouterr().out
    assert f"CORS rule {CORS_RULE_ID}: added" in out
    assert f"CORS rule {CORS_RULE_ID}: already in place" in out
    assert set(_rules(moto_endpoint)) == {CORS_RULE_ID}
