"""Copies one MLflow registered model version into the tenant's bucket, once.

Runs as a Job in the tenant's namespace with the tenant's own credentials: MLflow (MLFLOW_TRACKING_URI,
MLFLOW_TRACKING_USERNAME/PASSWORD, MLFLOW_WORKSPACE from `mlflow-credentials`) and S3
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from `s3-credentials`), so MLflow permissions and the
bucket policy decide what it may read and write. The InferenceService loads TARGET_URI, which mlplat
derives from the reference alone: synthesis stays offline and a new version means a new path.

Env: MODEL_NAME, MODEL_VERSION, TARGET_URI (s3://bucket/prefix/), AWS_ENDPOINT_URL, AWS_DEFAULT_REGION.
A marker object `<prefix>.source.json` next to the prefix records what the prefix holds; a re-run
with the same reference copies nothing.
"""
import json
import os
import sys
import tempfile

import boto3
from botocore.exceptions import ClientError
from mlflow.artifacts import download_artifacts


def main() -> int:
    name, version, target = os.environ["MODEL_NAME"], os.environ["MODEL_VERSION"], os.environ["TARGET_URI"]
    if not target.startswith("s3://") or not target.endswith("/"):
        sys.exit(f"TARGET_URI must look like s3://bucket/prefix/, got {target}")
    bucket, _, prefix = target[len("s3://"):].partition("/")
    marker = prefix.rstrip("/") + ".source.json"
    want = {"mlflow": {"model": name, "version": version, "workspace": os.environ.get("MLFLOW_WORKSPACE", "")}}
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_DEFAULT_REGION"))

    try:
        have = json.loads(s3.get_object(Bucket=bucket, Key=marker)["Body"].read())
        if have == want:
            print(f"{target} already holds models:/{name}/{version}")
            return 0
        print(f"{target} holds {have}, replacing it")
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise

    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as scratch:
        local = download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=scratch)
        count = 0
        for root, _, files in os.walk(local):
            for f in sorted(files):
                path = os.path.join(root, f)
                key = prefix + os.path.relpath(path, local).replace(os.sep, "/")
                s3.upload_file(path, bucket, key)
                count += 1
    if count == 0:
        sys.exit(f"models:/{name}/{version} has no files")
    # Written last: an interrupted copy is redone by the Job's next attempt.
    s3.put_object(Bucket=bucket, Key=marker, Body=json.dumps(want).encode())
    print(f"copied models:/{name}/{version} ({count} files) to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
