"""Which failures of a landing zone the raw step retries (`transient`): what waiting can fix.

The S3 answers are built as botocore builds them from a response (its `ClientError`), without a
server: throttling codes and 5xx are retried, a refusal (4xx, refused credentials, a missing
bucket) is not, and neither is anything that is not about the connection.
"""

from __future__ import annotations

import errno

import botocore.exceptions as aws
import pytest

from meridian_assets.defs.ingestion.assets import transient
from meridian_assets.defs.ingestion.drops import DropError


def s3_error(status: int | None, code: str | None) -> aws.ClientError:
    """What botocore raises for an S3 answer with this HTTP status and error code (None: absent)."""
    response = {}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    if code is not None:
        response["Error"] = {"Code": code, "Message": "from the test"}
    return aws.ClientError(response, "GetObject")


@pytest.mark.parametrize(("status", "code"), [
    (503, "SlowDown"),  # S3 asks to slow down
    (400, "Throttling"),  # throttling answered with a 4xx status is still throttling
    (400, "ThrottlingException"),
    (400, "RequestTimeout"),  # the server gave up waiting for the upload
    (503, "ServiceUnavailable"),
    (None, "SlowDown"),  # a throttling code without a status
    (500, "InternalError"),  # any 5xx: the server failed, the request may succeed later
    (500, None),
    (503, None),
    (599, "Whatever"),
])
def test_throttling_and_server_errors_are_retried(status, code):
    assert transient(s3_error(status, code)) is True


@pytest.mark.parametrize(("status", "code"), [
    (499, "ClientClosedRequest"),  # the highest 4xx: a refusal, not a failing server
    (403, "AccessDenied"),
    (403, "InvalidAccessKeyId"),  # refused credentials
    (403, "SignatureDoesNotMatch"),
    (404, "NoSuchBucket"),
    (404, "NoSuchKey"),
    (400, "InvalidRequest"),
    (403, None),  # a refusal without an error body
    (None, None),  # an answer without status or code
])
def test_refusals_are_not_retried(status, code):
    assert transient(s3_error(status, code)) is False


@pytest.mark.parametrize("exc", [
    aws.ReadTimeoutError(endpoint_url="http://landing"),
    aws.ConnectTimeoutError(endpoint_url="http://landing"),
    aws.EndpointConnectionError(endpoint_url="http://landing"),
    aws.IncompleteReadError(actual_bytes=10, expected_bytes=20),
    TimeoutError("read timed out"),
    ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
], ids=type)
def test_timeouts_and_dropped_connections_are_retried(exc):
    assert transient(exc) is True


@pytest.mark.parametrize("exc", [
    aws.NoCredentialsError(),
    OSError(errno.ENOSPC, "No space left on device"),
    FileNotFoundError("landing/gps/2026-11-08/part-0.parquet"),
    ValueError("not a number"),
    DropError("landing/gps/2026-11-08", "speed_kph", "must be double"),
], ids=type)
def test_everything_else_is_not_retried(exc):
    assert transient(exc) is False
