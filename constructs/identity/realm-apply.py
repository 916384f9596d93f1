"""Applies a realm file to Keycloak through its admin REST API, idempotently (standard library only).

Usage: python -B apply.py realm.json
Env:   KC_URL, KC_CLIENT_ID, KC_CLIENT_SECRET (a service account allowed to administer realms),
       KC_LOGIN_REALM (default master), KC_WAIT_SECONDS (default 600: Keycloak may still be starting),
       and every VAR that realm.json names as "$(env:VAR)" (client secrets: never written in the file).

Keycloak's own import either skips an existing realm or deletes and re-creates it (users lose their
groups), so this script updates objects in place instead. It never reads, writes or deletes users or
group memberships. It repairs hand-made drift on every run. It deletes only the groups and clients it
created itself in an earlier run (realm attribute STATE). It never prints a secret: errors show the
method, the path, the status and Keycloak's own message, never a request or response body.
"""
import json, os, re, sys, time, urllib.error, urllib.parse, urllib.request

STATE = "mlplat.io/managed"
SECTIONS = ("roles", "groups", "clientScopes", "clients")


class Failure(Exception):
    pass


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise Failure(f"environment variable {name} is not set")
    return value


def placeholder(name):
    if name not in os.environ:
        raise Failure(f"the realm file names $(env:{name}), but {name} is not set")
    return os.environ[name]


def substitute(value):
    """Replaces "$(env:VAR)" in every string of the realm file."""
    if isinstance(value, str):
        return re.sub(r"\$\(env:([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: placeholder(m.group(1)), value)
    if isinstance(value, list):
        return [substitute(v) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v) for k, v in value.items()}
    return value


def same(want, have):
    """Whether `have` already says everything `want` says (extra fields allowed; lists as sets).
    An empty string matches an absent value: Keycloak drops attributes set to ""."""
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(any(same(w, h) for h in have) for w in want)
    if isinstance(want, dict):
        return isinstance(have, dict) and all(same(v, have.get(k)) for k, v in want.items())
    return want == have or (want == "" and have is None)


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


def keycloak_message(err):
    """Keycloak's own error text; the body is not printed whole because it may echo the request."""
    try:
        body = json.loads(err.read() or b"{}")
    except ValueError:
        body = None
    keys = ("errorMessage", "error", "error_description")
    return " ".join(str(body[k]) for k in keys if body.get(k)) if isinstance(body, dict) else ""


class Keycloak:
    def __init__(self):
        self.url = env("KC_URL").rstrip("/")
        self.login_realm = env("KC_LOGIN_REALM", "master")
        self.credentials = {"grant_type": "client_credentials", "client_id": env("KC_CLIENT_ID"),
                            "client_secret": env("KC_CLIENT_SECRET")}
        self.token = None
        self.changes = 0

    def send(self, method, path, body=None, form=None, auth=True):
        """Returns (parsed JSON or None, Location header)."""
        data = urllib.parse.urlencode(form).encode() if form else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return (json.loads(text) if text else None), r.headers.get("Location")

    def login(self, wait_seconds):
        """Waits until Keycloak answers; refused credentials fail at once (waiting will not fix them)."""
        path = f"/realms/{q(self.login_realm)}/protocol/openid-connect/token"
        start = last_report = time.monotonic()
        while True:
            try:
                self.token = self.send("POST", path, form=self.credentials, auth=False)[0]["access_token"]
                return
            except urllib.error.HTTPError as e:
                if e.code in (400, 401, 403):
                    raise Failure(f"login as {self.credentials['client_id']} in realm {self.login_realm} refused: "
                                  f"{e.code} {keycloak_message(e)} (check KC_CLIENT_ID/KC_CLIENT_SECRET)")
                reason = f"HTTP {e.code}"
            except (urllib.error.URLError, OSError) as e:
                reason = str(getattr(e, "reason", e))
            waited = time.monotonic() - start
            if waited > wait_seconds:
                raise Failure(f"Keycloak at {self.url} did not answer within {wait_seconds} s: {reason}")
            if time.monotonic() - last_report >= 30:
                print(f"waiting for Keycloak at {self.url} ({waited:.0f} s): {reason}", flush=True)
                last_report = time.monotonic()
            time.sleep(3)

    def api(self, method, path, body=None, missing_ok=False):
        """An admin call under /admin/realms; every call but GET is a change and is printed."""
        for attempt in (1, 2):
            try:
                result, location = self.send(method, "/admin/realms" + path, body)
                break
            except urllib.error.HTTPError as e:
                if e.code == 404 and missing_ok:
                    return None
                if e.code == 401 and attempt == 1:  # the admin token expired (60 s in master by default)
                    self.login(0)
                    continue
                raise Failure(f"{method} /admin/realms{path}: {e.code} {keycloak_message(e)}".rstrip())
            except (urllib.error.URLError, OSError) as e:
                raise Failure(f"{method} /admin/realms{path}: {getattr(e, 'reason', e)}")
        if method != "GET":
            self.changes += 1
            print(method, "/admin/realms" + path, flush=True)
        # A create answers 201 with the new object's URL: its id is the last segment.
        return location.rsplit("/", 1)[1] if method == "POST" and location else result


def q(name):
    return urllib.parse.quote(name, safe="")


def update(kc, path, have, fields):
    """PUTs `fields` over the current representation (attributes merged) when something differs."""
    if not same(fields, have):
        attributes = {**(have.get("attributes") or {}), **fields.get("attributes", {})}
        kc.api("PUT", path, {**without(have, "protocolMappers"), **fields, "attributes": attributes})


def reconcile_mappers(kc, base, wanted, existing):
    """Protocol mappers of a client scope or client, matched by name; others are left alone."""
    for m in wanted:
        have = next((x for x in existing if x["name"] == m["name"]), None)
        if have is None:
            kc.api("POST", f"{base}/protocol-mappers/models", m)
        elif not same(m, have):
            config = {**have.get("config", {}), **m.get("config", {})}
            kc.api("PUT", f"{base}/protocol-mappers/models/{have['id']}", {**have, **m, "config": config})


def apply(kc, desired):
    realm = desired.get("realm")
    if not realm:
        raise Failure("the realm file has no \"realm\" name")
    R = f"/{q(realm)}"
    roles = desired.get("roles", {}).get("realm", [])
    groups, scopes, clients = desired.get("groups", []), desired.get("clientScopes", []), desired.get("clients", [])
    settings = without(desired, *SECTIONS)

    # Created minimally first, so that Keycloak adds its default client scopes (profile, email, ...).
    have_realm = kc.api("GET", R, missing_ok=True)
    if have_realm is None:
        kc.api("POST", "", {"realm": realm, "enabled": True})
        have_realm = kc.api("GET", R)
    top_groups = {g["name"]: g for g in kc.api("GET", f"{R}/groups?briefRepresentation=true&max=100000")}
    have_clients = {c["clientId"]: (kc.api("GET", f"{R}/clients?clientId={q(c['clientId'])}") or [None])[0] for c in clients}

    # Ownership: what this script created in any run (an adopted, hand-made object is never deleted).
    attrs = have_realm.get("attributes") or {}
    prev = json.loads(attrs.get(STATE) or '{"groups": [], "clients": []}')
    owned = {"groups": [g["name"] for g in groups if g["name"] in prev["groups"] or g["name"] not in top_groups],
             "clients": [c["clientId"] for c in clients if c["clientId"] in prev["clients"] or not have_clients[c["clientId"]]]}
    state = json.dumps(owned)
    want_attrs = {**attrs, **settings.get("attributes", {}), STATE: state}
    if not same(settings, have_realm) or not same(want_attrs, attrs):
        kc.api("PUT", R, {**settings, "attributes": want_attrs})

    for r in roles:
        have = kc.api("GET", f"{R}/roles/{q(r['name'])}", missing_ok=True)
        if have is None:
            kc.api("POST", f"{R}/roles", r)
        else:
            update(kc, f"{R}/roles/{q(r['name'])}", have, r)

    have_scopes = {s["name"]: s for s in kc.api("GET", f"{R}/client-scopes")}
    for s in scopes:
        fields, mappers = without(s, "protocolMappers"), s.get("protocolMappers", [])
        have = have_scopes.get(s["name"])
        if have is None:
            kc.api("POST", f"{R}/client-scopes", s)
            continue
        update(kc, f"{R}/client-scopes/{have['id']}", have, fields)
        reconcile_mappers(kc, f"{R}/client-scopes/{have['id']}", mappers, have.get("protocolMappers", []))
    scope_ids = {s["name"]: s["id"] for s in kc.api("GET", f"{R}/client-scopes")}

    # Groups and their mappings to the file's realm roles; members are never looked at.
    role_names = [r["name"] for r in roles]
    for g in groups:
        gid = top_groups[g["name"]]["id"] if g["name"] in top_groups else kc.api("POST", f"{R}/groups", {"name": g["name"]})
        mapped = [r["name"] for r in kc.api("GET", f"{R}/groups/{gid}/role-mappings/realm")]
        add = [n for n in g.get("realmRoles", []) if n not in mapped]
        drop = [n for n in mapped if n in role_names and n not in g.get("realmRoles", [])]
        for method, names in (("POST", add), ("DELETE", drop)):
            if names:
                kc.api(method, f"{R}/groups/{gid}/role-mappings/realm", [kc.api("GET", f"{R}/roles/{q(n)}") for n in names])
    for name in prev["groups"]:
        if name not in [g["name"] for g in groups] and name in top_groups:
            kc.api("DELETE", f"{R}/groups/{top_groups[name]['id']}")

    # Clients are updated in place: their internal id, user sessions and consents survive.
    for c in clients:
        fields = without(c, "defaultClientScopes", "protocolMappers")
        wanted_scopes = c.get("defaultClientScopes")
        unknown = [n for n in wanted_scopes or [] if n not in scope_ids]
        if unknown:
            raise Failure(f"client {c['clientId']}: no client scope named {', '.join(unknown)}")
        have = have_clients[c["clientId"]]
        if have is None:
            kc.api("POST", f"{R}/clients", c)
            continue
        base = f"{R}/clients/{have['id']}"
        update(kc, base, have, fields)
        reconcile_mappers(kc, base, c.get("protocolMappers", []), have.get("protocolMappers", []))
        if wanted_scopes is not None:
            current = [s["name"] for s in kc.api("GET", f"{base}/default-client-scopes")]
            for n in [n for n in wanted_scopes if n not in current] + [n for n in current if n not in wanted_scopes]:
                kc.api("PUT" if n in wanted_scopes else "DELETE", f"{base}/default-client-scopes/{scope_ids[n]}")
    for cid in prev["clients"]:
        if cid not in [c["clientId"] for c in clients]:
            for found in kc.api("GET", f"{R}/clients?clientId={q(cid)}"):
                kc.api("DELETE", f"{R}/clients/{found['id']}")
    return realm


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python -B apply.py realm.json")
    try:
        with open(sys.argv[1]) as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"error: cannot read {sys.argv[1]}: {e}")
    try:
        desired = substitute(raw)
        kc = Keycloak()
        wait = env("KC_WAIT_SECONDS", "600")
        if not wait.isdigit():
            raise Failure(f"KC_WAIT_SECONDS must be a number of seconds, not {wait!r}")
        kc.login(int(wait))
        realm = apply(kc, desired)
    except Failure as e:
        sys.exit(f"error: {e}")
    print(f"realm {realm}: {kc.changes} change(s)")


if __name__ == "__main__":
    main()
