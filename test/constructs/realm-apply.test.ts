/**
 * The realm applier (constructs/identity/realm-apply.py) without Keycloak: its pure helpers, its
 * errors, and its HTTP behaviour against a small fake of the admin API. The e2e suite runs it
 * against a real Keycloak (test/e2e/identity.ts).
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tmpDir } from '../helpers';

const APPLIER = path.join(ROOT, 'constructs', 'identity', 'realm-apply.py');
const SECRET = 'bootstrap-secret-0123456789abcdef';
const run = promisify(execFile);

/** Runs the applier on `realm`; resolves with its exit code and output (it never throws). */
async function apply(realm: unknown, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(tmpDir(), 'realm.json');
  fs.writeFileSync(file, typeof realm === 'string' ? realm : JSON.stringify(realm));
  try {
    const r = await run('python3', ['-B', APPLIER, file], { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e: any) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Calls the applier's functions directly (the module does nothing on import). */
async function python(code: string, env: Record<string, string> = {}): Promise<any> {
  const prelude = `import importlib.util, json, os\nspec = importlib.util.spec_from_file_location("ra", ${JSON.stringify(APPLIER)})\nra = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(ra)\n`;
  const r = await run('python3', ['-B', '-c', prelude + code], { env: { PATH: process.env.PATH, ...env } });
  return JSON.parse(r.stdout);
}

describe('realm applier: pure parts', () => {
  it('replaces $(env:VAR) in every string of the file, nested, and leaves everything else alone', async () => {
    const out = await python(
      'print(json.dumps(ra.substitute({"a": "$(env:X)", "b": ["pre-$(env:X)-$(env:Y)"], "c": {"d": "$(file:/etc/x) $X ${X}"}, "n": 1, "t": True})))',
      { X: 'ex', Y: 'why' },
    );
    assert.deepEqual(out, { a: 'ex', b: ['pre-ex-why'], c: { d: '$(file:/etc/x) $X ${X}' }, n: 1, t: true });
  });

  it('compares what the file says as a subset of what Keycloak has: extra fields allowed, lists as sets, "" as absent', async () => {
    const cases: Array<[unknown, unknown, boolean]> = [
      [{ a: 1 }, { a: 1, b: 2 }, true],
      [{ a: 1, b: 2 }, { a: 1 }, false],
      [['x', 'y'], ['y', 'x'], true],
      [['x'], ['x', 'y'], false],
      [[{ name: 'm', config: { k: 'v' } }], [{ id: '1', name: 'm', config: { k: 'v', extra: 'e' } }], true],
      [{ attributes: { 'post.logout.redirect.uris': '' } }, { attributes: {} }, true],
      [{ attributes: { k: 'v' } }, { attributes: {} }, false],
      [false, null, false],
      [1, '1', false],
    ];
    const out = await python('print(json.dumps([ra.same(w, h) for w, h, _ in json.loads(os.environ["CASES"])]))', { CASES: JSON.stringify(cases) });
    assert.deepEqual(out, cases.map(([, , want]) => want));
  });
});

describe('realm applier: errors before any call', () => {
  const creds = { KC_URL: 'http://127.0.0.1:9', KC_CLIENT_ID: 'mlplat-bootstrap', KC_CLIENT_SECRET: SECRET };

  it('names a placeholder whose variable is not set', async () => {
    const r = await apply({ realm: 'acme', clients: [{ clientId: 'app', secret: '$(env:OIDC_SECRET_APP)' }] }, creds);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'error: the realm file names $(env:OIDC_SECRET_APP), but OIDC_SECRET_APP is not set');
  });

  it('names a missing KC_ variable, a bad KC_WAIT_SECONDS, an unreadable file and a file without a realm', async () => {
    const { KC_URL: _unused, ...noUrl } = creds;
    assert.match((await apply({ realm: 'acme' }, noUrl)).stderr, /^error: environment variable KC_URL is not set$/m);
    assert.match((await apply({ realm: 'acme' }, { ...creds, KC_WAIT_SECONDS: 'soon' })).stderr, /KC_WAIT_SECONDS must be a number of seconds, not 'soon'/);
    assert.match((await apply('{not json', creds)).stderr, /^error: cannot read .*realm\.json: /m);
    const usage = await run('python3', ['-B', APPLIER]).catch((e) => e);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /usage: python -B apply\.py realm\.json/);
  });

  it('gives up on a Keycloak that does not answer within KC_WAIT_SECONDS', async () => {
    const r = await apply({ realm: 'acme' }, { ...creds, KC_WAIT_SECONDS: '0' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Keycloak at http:\/\/127\.0\.0\.1:9 did not answer within 0 s: .*refused/m);
  });
});

describe('realm applier: against a fake admin API', () => {
  type Handler = (req: http.IncomingMessage, body: string) => { status: number; body?: unknown } | undefined;
  let server: http.Server;
  let url: string;
  let handler: Handler = () => undefined;
  const seen: string[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url}`);
        const answer = handler(req, body) ?? { status: 404, body: { error: 'not found' } };
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const env = () => ({ KC_URL: url, KC_CLIENT_ID: 'mlplat-bootstrap', KC_CLIENT_SECRET: SECRET, KC_WAIT_SECONDS: '20' });
  const TOKEN_PATH = '/realms/master/protocol/openid-connect/token';

  it('fails at once when the credentials are refused, with Keycloak\'s reason and without the secret', async () => {
    seen.length = 0;
    handler = (req, body) => {
      assert.ok(body.includes('grant_type=client_credentials'));
      return req.url === TOKEN_PATH ? { status: 401, body: { error: 'unauthorized_client', error_description: 'Invalid client or Invalid client credentials' } } : undefined;
    };
    const r = await apply({ realm: 'acme' }, env());
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'error: login as mlplat-bootstrap in realm master refused: 401 unauthorized_client Invalid client or Invalid client credentials (check KC_CLIENT_ID/KC_CLIENT_SECRET)');
    assert.deepEqual(seen, [`POST ${TOKEN_PATH}`], 'no retry');
  });

  it('prints method, path, status and Keycloak\'s errorMessage of a failed call, never the body that echoes the request', async () => {
    handler = (req, body) => {
      if (req.url === TOKEN_PATH) return { status: 200, body: { access_token: 't1' } };
      if (req.method === 'GET' && req.url === '/admin/realms/acme') return { status: 404, body: { error: 'Realm not found.' } };
      if (req.method === 'POST' && req.url === '/admin/realms') return { status: 409, body: { errorMessage: 'Conflict detected. See logs for details', request: JSON.parse(body), secret: SECRET } };
      return undefined;
    };
    const r = await apply({ realm: 'acme', clients: [{ clientId: 'app', secret: '$(env:OIDC_SECRET_APP)' }] }, { ...env(), OIDC_SECRET_APP: 'app-secret-value' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'error: POST /admin/realms: 409 Conflict detected. See logs for details');
    for (const s of [SECRET, 'app-secret-value']) assert.ok(!(r.stdout + r.stderr).includes(s), 'no secret in the output');
  });

  it('waits for a Keycloak still starting, renews an expired admin token once, and records what it owns in the realm', async () => {
    seen.length = 0;
    let tokens = 0;
    let realmGets = 0;
    let put: any;
    handler = (req, body) => {
      if (req.url === TOKEN_PATH) {
        tokens++;
        return tokens === 1 ? { status: 503 } : { status: 200, body: { access_token: `t${tokens}` } };
      }
      const auth = req.headers.authorization;
      if (req.method === 'GET' && req.url === '/admin/realms/acme') {
        realmGets++;
        // The first admin call finds the token expired.
        return realmGets === 1 ? { status: 401, body: { error: 'HTTP 401 Unauthorized' } } : { status: 200, body: { realm: 'acme', enabled: true, attributes: { other: 'kept' } } };
      }
      assert.equal(auth, 'Bearer t3', 'later calls use the renewed token');
      if (req.method === 'GET' && req.url?.startsWith('/admin/realms/acme/groups?')) return { status: 200, body: [{ id: 'g1', name: 'handmade' }] };
      if (req.method === 'GET' && req.url === '/admin/realms/acme/client-scopes') return { status: 200, body: [] };
      if (req.method === 'PUT' && req.url === '/admin/realms/acme') {
        put = JSON.parse(body);
        return { status: 204 };
      }
      return undefined;
    };
    const r = await apply({ realm: 'acme', enabled: true, displayName: 'Acme' }, env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(tokens, 3, 'one refused attempt while starting, one login, one renewal');
    assert.equal(r.stdout, 'PUT /admin/realms/acme\nrealm acme: 1 change(s)\n');
    assert.deepEqual(put, { realm: 'acme', enabled: true, displayName: 'Acme', attributes: { other: 'kept', 'mlplat.io/managed': '{"groups": [], "clients": []}' } });
    assert.ok(!seen.some((s) => /\/users/.test(s)), 'never touches users');
  });
});
