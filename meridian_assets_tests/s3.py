"""A real S3 API server for the tests: moto's standalone server on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from meridian_assets_tests.ports import free_port

CREDENTIALS = {"aws_access_key_id": "meridian-test", "aws_secret_access_key": "meridian-test-secret"}
ENVIRONMENT = {"AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
               "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"], "AWS_REGION": "us-east-1"}


@contextmanager
def moto_server() -> Iterator[str]:
    """Its endpoint URL while the block runs; stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)
