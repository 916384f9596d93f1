"""Copies one ClearML model into the tenant's bucket, once.

Runs as a Job in the tenant's namespace with the tenant's own credentials only: its ClearML API key
pair (CLEARML_API_ACCESS_KEY/CLEARML_API_SECRET_KEY from `clearml-agent`) and its S3 keys
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from `s3-credentials`). The InferenceService loads
TARGET_URI, which mlplat derives from the model id alone: synthesis stays offline.

Env: CLEARML_MODEL_ID, TARGET_URI (s3://bucket/prefix/), CLEARML_API_HOST, CLEARML_FILES_HOST,
AWS_ENDPOINT_URL, AWS_DEFAULT_REGION.

Resolution, per clearml-server's schema (apiserver/schema/services): `auth.login` with HTTP basic
auth key:secret answers data.token; `models.get_by_id {"model": <id>}` with `Authorization: Bearer
<token>` answers data.model. Every answer is `{"meta": {...}, "data": {...}}`, its HTTP status
meta.result_code.

Accepted model URIs (data.model.uri); anything else exits non-zero:
  - s3://<store host:port>/<the target's bucket>/<key>: what ClearML writes with the platform's
    output_uri, read with the tenant's S3 keys;
  - <CLEARML_FILES_HOST>/<path>: the platform's ClearML fileserver, read with the bearer token.
Only published models (ready: true): a draft's weights can still change under the same id.
A zip (the SDK's `update_weights_package`: system tag `package`, or any `.zip`) is extracted under
the prefix; any other model is copied as its one file.

A marker object `<prefix>.source.json` next to the prefix records what the prefix holds; a re-run
with the same id copies nothing and does not call ClearML.

Stdlib only (the image is library/python, without boto3): the small S3 client below signs with AWS
Signature Version 4, path-style; files over PART_SIZE go up as multipart uploads.
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from xml.sax.saxutils import escape

MODEL_ID = re.compile(r"^[0-9a-f]{32}$")
# ClearML's system tag on models uploaded with `update_weights_package` (clearml/model.py).
PACKAGE_TAG = "package"
# Files up to this size go up in one PUT, larger ones in parts of (at least) this size, each held
# in memory once to be hashed for its signature.
PART_SIZE = 64 * 1024 * 1024
# S3 limits: parts per upload, and the largest object.
MAX_PARTS = 10_000
MAX_OBJECT = 5 * 1024**4
CHUNK = 1024 * 1024
TIMEOUT = 120


class FetchError(Exception):
    """A failure with a message for the Job's log (no traceback)."""


def save(response, path: str, what: str) -> None:
    """Writes a response body to `path`; a body shorter than its Content-Length fails.

    http.client ends a body cut short silently, and a truncated model must not be copied.
    """
    with open(path, "wb") as out:
        shutil.copyfileobj(response, out, CHUNK)
        size = out.tell()
    expected = response.getheader("Content-Length")
    if expected is not None and int(expected) != size:
        raise FetchError(f"{what}: got {size} of {expected} bytes")


# --- S3 ------------------------------------------------------------------------------------------


def _uri_encode(value: str, safe: str = "") -> str:
    # SigV4 encodes everything but the unreserved characters A-Z a-z 0-9 - _ . ~
    return urllib.parse.quote(value, safe="-_.~" + safe)


def sigv4_headers(method, host, path, query, headers, payload_sha256, access_key, secret_key, region, now):
    """The request's headers with x-amz-date, x-amz-content-sha256 and Authorization added.

    `path` is the URI-encoded path as sent; `query` a dict of unencoded names and values. Every
    header given is signed, with `host`.
    """
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): str(v).strip() for k, v in headers.items()}
    signed.update({"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    names = sorted(signed)
    canonical_request = "\n".join([
        method,
        path,
        "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query.items())),
        "".join(f"{n}:{signed[n]}\n" for n in names),
        ";".join(names),
        payload_sha256,
    ])
    scope = f"{day}/{region}/s3/aws4_request"
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = f"AWS4-HMAC-SHA256 Credential={access_key}/{scope},SignedHeaders={';'.join(names)},Signature={signature}"
    return signed


class S3Error(FetchError):
    def __init__(self, what: str, status: int, body: bytes):
        text = body.decode("utf-8", "replace")
        self.code = _xml_text(text, "Code") or http.client.responses.get(status, "")
        message = _xml_text(text, "Message")
        super().__init__(f"S3 {what}: HTTP {status} {self.code}{f': {message}' if message else ''}")


def _xml_text(xml: str, tag: str) -> str:
    m = re.search(rf"<{tag}>(.*?)</{tag}>", xml, re.S)
    return m.group(1) if m else ""


class S3:
    """Path-style S3 requests to one endpoint (MinIO, Ceph RGW) with one key pair."""

    def __init__(self, endpoint: str, region: str, access_key: str, secret_key: str):
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise FetchError(f"AWS_ENDPOINT_URL must be an http(s) URL, got {endpoint}")
        self.scheme, self.netloc = url.scheme, url.netloc
        self.region, self.access_key, self.secret_key = region, access_key, secret_key

    def _request(self, method, bucket, key="", query=None, body=b""):
        """Sends one signed request; returns (status, headers, response) with the body unread."""
        query = query or {}
        path = _uri_encode(f"/{bucket}/{key}" if key else f"/{bucket}", safe="/")
        headers = sigv4_headers(
            method, self.netloc, path, query, {}, hashlib.sha256(body).hexdigest(),
            self.access_key, self.secret_key, self.region, datetime.datetime.now(datetime.timezone.utc),
        )
        qs = "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query.items()))
        conn_class = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(self.netloc, timeout=TIMEOUT)
        conn.request(method, path + (f"?{qs}" if qs else ""), body=body, headers=headers)
        return conn.getresponse()

    def _call(self, what, method, bucket, key="", query=None, body=b"") -> http.client.HTTPResponse:
        """A request that must succeed (2xx): the response, body unread."""
        r = self._request(method, bucket, key, query, body)
        if r.status // 100 != 2:
            raise S3Error(what, r.status, r.read())
        return r

    def get_bytes(self, bucket: str, key: str):
        """The object's content, or None when there is no such key (a missing bucket is an error)."""
        r = self._request("GET", bucket, key)
        body = r.read()
        if r.status == 404:
            err = S3Error(f"GET s3://{bucket}/{key}", r.status, body)
            if err.code == "NoSuchKey":
                return None
            raise err
        if r.status // 100 != 2:
            raise S3Error(f"GET s3://{bucket}/{key}", r.status, body)
        return body

    def download(self, bucket: str, key: str, path: str) -> None:
        what = f"GET s3://{bucket}/{key}"
        save(self._call(what, "GET", bucket, key), path, what)

    def put_bytes(self, bucket: str, key: str, body: bytes) -> None:
        self._call(f"PUT s3://{bucket}/{key}", "PUT", bucket, key, body=body).read()

    def upload(self, bucket: str, key: str, path: str) -> None:
        """One PUT up to PART_SIZE, else a multipart upload (aborted when a part fails)."""
        size = os.path.getsize(path)
        if size > MAX_OBJECT:
            raise FetchError(f"{os.path.basename(path)} has {size} bytes; S3 objects hold at most {MAX_OBJECT}")
        with open(path, "rb") as f:
            if size <= PART_SIZE:
                self.put_bytes(bucket, key, f.read())
                return
            part_size = max(PART_SIZE, -(-size // MAX_PARTS))
            where = f"s3://{bucket}/{key}"
            started = self._call(f"multipart upload of {where}", "POST", bucket, key, {"uploads": ""}).read().decode()
            upload_id = _xml_text(started, "UploadId")
            if not upload_id:
                raise FetchError(f"S3 started no multipart upload of {where}: {started[:200]}")
            try:
                parts = []
                while chunk := f.read(part_size):
                    number = len(parts) + 1
                    r = self._call(f"part {number} of {where}", "PUT", bucket, key, {"partNumber": str(number), "uploadId": upload_id}, chunk)
                    r.read()
                    parts.append((number, r.getheader("ETag")))
                xml = "<CompleteMultipartUpload>" + "".join(
                    f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(etag)}</ETag></Part>" for n, etag in parts
                ) + "</CompleteMultipartUpload>"
                done = self._call(f"completing {where}", "POST", bucket, key, {"uploadId": upload_id}, xml.encode()).read()
                # S3 may answer 200 with an error in the body once the upload had started.
                if b"<Error>" in done:
                    raise S3Error(f"completing {where}", 200, done)
            except BaseException:
                try:
                    self._request("DELETE", bucket, key, {"uploadId": upload_id}).read()
                except Exception:  # the original error matters more
                    pass
                raise


# --- ClearML -------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would send the Authorization header to the new host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxy either: an HTTP(S)_PROXY in the pod's environment would receive the key pair and the token.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def clearml_call(api_host: str, endpoint: str, payload: dict, authorization: str) -> dict:
    """POSTs to `<api>/<service.action>` and returns `data`; fails with meta.result_msg otherwise."""
    url = f"{api_host.rstrip('/')}/{endpoint}"
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": authorization},
    )
    try:
        with _OPENER.open(req, timeout=TIMEOUT) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except urllib.error.URLError as e:
        raise FetchError(f"cannot reach the ClearML API at {api_host}: {e.reason}") from None
    try:
        doc = json.loads(body)
        meta = doc.get("meta") or {}
    except (ValueError, AttributeError):
        raise FetchError(f"ClearML {endpoint}: HTTP {status}, not a ClearML answer: {body[:200]!r}") from None
    if status != 200 or meta.get("result_code") != 200:
        raise FetchError(
            f"ClearML {endpoint}: HTTP {status}, result {meta.get('result_code')}/{meta.get('result_subcode')}: {meta.get('result_msg')}"
        )
    return doc.get("data") or {}


def resolve(api_host: str, access_key: str, secret_key: str, model_id: str):
    """Logs in with the key pair and returns (token, model)."""
    basic = base64.b64encode(f"{access_key}:{secret_key}".encode()).decode()
    try:
        token = clearml_call(api_host, "auth.login", {}, f"Basic {basic}").get("token")
    except FetchError as e:
        raise FetchError(f"ClearML refused the tenant's API key: {e}") from None
    if not token:
        raise FetchError("ClearML auth.login answered no token")
    model = clearml_call(api_host, "models.get_by_id", {"model": model_id}, f"Bearer {token}").get("model")
    if not model:
        raise FetchError(f"ClearML has no model {model_id}")
    return token, model


# --- Where the model is --------------------------------------------------------------------------


def _origin(url: str):
    u = urllib.parse.urlsplit(url)
    return u.scheme, (u.hostname or "").lower(), u.port or (443 if u.scheme == "https" else 80)


def locate(uri: str, bucket: str, endpoint: str, files_host: str):
    """("s3", key) for the tenant's own bucket, ("files", url) for the fileserver; fails otherwise."""
    _, host, port = _origin(endpoint)
    store = f"{host}:{port}"
    if uri.startswith("s3://"):
        # Split by hand: an S3 key may hold `?` or `#`, which urlsplit would cut off.
        netloc, _, rest = uri[len("s3://"):].partition("/")
        in_bucket, _, key = rest.partition("/")
        if netloc.lower() == store and in_bucket == bucket and key and not key.endswith("/"):
            return "s3", key
    elif uri.startswith(("http://", "https://")):
        files_path = urllib.parse.urlsplit(files_host).path.rstrip("/") + "/"
        u = urllib.parse.urlsplit(uri)
        if _origin(uri) == _origin(files_host) and not u.username and u.path.startswith(files_path) and not u.path.endswith("/"):
            return "files", uri
    raise FetchError(
        f"the model's URI {uri} is neither in the tenant's own bucket (s3://{store}/{bucket}/…, where the platform's "
        f"output_uri puts models) nor on the platform's ClearML fileserver ({files_host.rstrip('/')}/…)"
    )


def download_from_fileserver(url: str, token: str, path: str) -> None:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with _OPENER.open(req, timeout=TIMEOUT) as r:
            save(r, path, f"fileserver GET {url}")
    except urllib.error.HTTPError as e:
        raise FetchError(f"fileserver GET {url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise FetchError(f"cannot reach the ClearML fileserver for {url}: {e.reason}") from None


def extract_zip(archive: str, into: str) -> None:
    """Extracts every file; an entry that would land outside `into` fails the copy."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if info.filename.startswith(("/", "\\")) or ".." in parts or not parts or ":" in parts[0]:
                raise FetchError(f"the zip holds {info.filename!r}, which would land outside the model's prefix")
            dest = os.path.join(into, *parts)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)


def files_under(root: str):
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            yield path, os.path.relpath(path, root).replace(os.sep, "/")


# --- The Job -------------------------------------------------------------------------------------


def main() -> int:
    env = os.environ
    model_id, target = env["CLEARML_MODEL_ID"], env["TARGET_URI"]
    if not MODEL_ID.match(model_id):
        raise FetchError(f"CLEARML_MODEL_ID must be a ClearML model id (32 hex characters), got {model_id!r}")
    if not target.startswith("s3://") or not target.endswith("/"):
        raise FetchError(f"TARGET_URI must look like s3://bucket/prefix/, got {target}")
    bucket, _, prefix = target[len("s3://"):].partition("/")
    marker = prefix.rstrip("/") + ".source.json"
    s3 = S3(env["AWS_ENDPOINT_URL"], env.get("AWS_DEFAULT_REGION") or "us-east-1", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])

    have = s3.get_bytes(bucket, marker)
    if have is not None:
        try:
            held = json.loads(have).get("clearml", {}).get("id")
        except (ValueError, AttributeError):
            held = None
        if held == model_id:
            print(f"{target} already holds ClearML model {model_id}")
            return 0
        print(f"{target} holds {have[:200]!r}, replacing it")

    token, model = resolve(env["CLEARML_API_HOST"], env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"], model_id)
    name, uri = model.get("name") or model_id, model.get("uri") or ""
    if model.get("ready") is not True:
        raise FetchError(f"ClearML model {model_id} ({name}) is a draft: publish it first (its weights can still change)")
    if not uri:
        raise FetchError(f"ClearML model {model_id} ({name}) has no weights (its uri is empty)")
    kind, where = locate(uri, bucket, env["AWS_ENDPOINT_URL"], env["CLEARML_FILES_HOST"])

    with tempfile.TemporaryDirectory() as scratch:
        url_path = where if kind == "s3" else urllib.parse.unquote(urllib.parse.urlsplit(where).path)
        filename = url_path.rsplit("/", 1)[-1]
        downloaded = os.path.join(scratch, "download")
        if kind == "s3":
            s3.download(bucket, where, downloaded)
        else:
            download_from_fileserver(where, token, downloaded)

        tree = os.path.join(scratch, "model")
        os.makedirs(tree)
        if PACKAGE_TAG in (model.get("system_tags") or []) or filename.lower().endswith(".zip"):
            if not zipfile.is_zipfile(downloaded):
                raise FetchError(f"ClearML model {model_id} ({name}) is a package, but {uri} is no zip")
            extract_zip(downloaded, tree)
        else:
            os.rename(downloaded, os.path.join(tree, filename))

        count = 0
        for path, rel in files_under(tree):
            s3.upload(bucket, prefix + rel, path)
            count += 1
    if count == 0:
        raise FetchError(f"ClearML model {model_id} ({name}): {uri} holds no files")
    # Written last: an interrupted copy is redone by the Job's next attempt.
    s3.put_bytes(bucket, marker, json.dumps({"clearml": {"id": model_id, "name": name, "uri": uri}}).encode())
    print(f"copied ClearML model {model_id} ({name}, {count} files) from {uri} to {target}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FetchError as e:
        sys.exit(f"fetch-clearml: {e}")
    except (OSError, http.client.HTTPException) as e:
        sys.exit(f"fetch-clearml: {type(e).__name__}: {e}")
