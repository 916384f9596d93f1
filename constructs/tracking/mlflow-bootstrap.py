"""mlplat: idempotent MLflow tenancy bootstrap.

For every tenant in tenants.json: a workspace, an MLflow user whose password is read from
$CREDENTIALS_DIR/<user>/password (created or updated), a role "members" in that workspace with
USE on the workspace and EDIT on its experiments and registered models, and the user assigned
to it. Running it again changes nothing (or re-syncs a rotated password). The user of a tenant
that is no longer listed (a workspace with the "members" role mlplat made, but no entry) is
deleted, so its password stops working; its workspace, runs and artifacts stay.

Environment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (the admin),
CREDENTIALS_DIR (default /credentials), TENANTS_FILE (default: tenants.json next to this file).
"""

import json
import os
import sys
import time

import mlflow
from mlflow.exceptions import MlflowException, RestException
from mlflow.server.auth.client import AuthServiceClient

ROLE = "members"
PERMISSIONS = [("workspace", "*", "USE"), ("experiment", "*", "EDIT"), ("registered_model", "*", "EDIT")]


def log(msg):
    print(f"mlflow-bootstrap: {msg}", flush=True)


def wait_for_server(auth, admin, deadline_s=600):
    start = time.time()
    while True:
        try:
            auth.get_user(admin)
            return
        except Exception as e:  # the server is starting: connection refused, 502, ...
            if time.time() - start > deadline_s:
                raise SystemExit(f"mlflow-bootstrap: server not ready after {deadline_s}s: {e}")
            time.sleep(3)


def already_exists(e):
    return isinstance(e, (RestException, MlflowException)) and (
        "RESOURCE_ALREADY_EXISTS" in str(e) or "already exists" in str(e).lower()
    )


def ensure_workspace(name):
    if name in {w.name for w in mlflow.list_workspaces()}:
        log(f"workspace {name}: exists")
        return
    mlflow.create_workspace(name)
    log(f"workspace {name}: created")


def ensure_user(auth, user, password):
    try:
        auth.create_user(user, password)
        log(f"user {user}: created")
    except Exception as e:
        if not already_exists(e):
            raise
        auth.update_user_password(user, password)
        log(f"user {user}: exists, password synced")


def ensure_role(auth, workspace, user):
    role = next((r for r in auth.list_roles(workspace) if r.name == ROLE), None)
    if role is None:
        role = auth.create_role(workspace, ROLE, description="mlplat tenant members")
        log(f"role {workspace}/{ROLE}: created")
    have = {(p.resource_type, p.resource_pattern, p.permission) for p in auth.list_role_permissions(role.id)}
    for perm in PERMISSIONS:
        if perm not in have:
            auth.add_role_permission(role.id, *perm)
            log(f"role {workspace}/{ROLE}: granted {perm[2]} on {perm[0]} {perm[1]}")
    if ROLE not in {r.name for r in auth.list_user_roles(user) if getattr(r, "workspace", workspace) == workspace}:
        auth.assign_role(user, role.id)
        log(f"user {user}: assigned {workspace}/{ROLE}")


def retire(auth, declared):
    for w in mlflow.list_workspaces():
        if w.name in declared or w.name == "default":
            continue
        if not any(r.name == ROLE for r in auth.list_roles(w.name)):
            continue  # not a workspace mlplat made
        try:
            auth.delete_user(w.name)
            log(f"user {w.name}: tenant removed, user deleted (workspace {w.name} kept)")
        except Exception as e:
            if "RESOURCE_DOES_NOT_EXIST" not in str(e) and "not found" not in str(e).lower():
                raise


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    tenants_file = os.environ.get("TENANTS_FILE", os.path.join(here, "tenants.json"))
    creds = os.environ.get("CREDENTIALS_DIR", "/credentials")
    with open(tenants_file) as f:
        tenants = json.load(f)
    auth = AuthServiceClient(os.environ["MLFLOW_TRACKING_URI"])
    wait_for_server(auth, os.environ["MLFLOW_TRACKING_USERNAME"])
    for t in tenants:
        with open(os.path.join(creds, t["user"], "password")) as f:
            password = f.read().strip()
        ensure_workspace(t["workspace"])
        ensure_user(auth, t["user"], password)
        ensure_role(auth, t["workspace"], t["user"])
    retire(auth, {t["workspace"] for t in tenants})
    log(f"done ({len(tenants)} tenants)")


if __name__ == "__main__":
    sys.exit(main())
