/**
 * The SSO gates (oauth2-proxy per routed app) as synthesized, run for real against a real
 * Keycloak: the request Traefik's forwardAuth sends is redirected to the login page with PKCE;
 * after a browser login through Keycloak and the gate's callback, a member of an allowed group
 * is let through (202 with the X-Auth-Request-* headers Traefik copies to the app), anyone else
 * is refused. The model token gates likewise, with Bearer ID tokens instead of a browser login.
 * Called by the real-Keycloak test while its Keycloak runs.
 */
import * as assert from 'node:assert/strict';
import { KubeObject } from '../../lib/synth';
import { freePort, httpOk, Processes, until } from './lib/processes';

export interface GateUser {
  readonly username: string;
  readonly password: string;
  readonly groups: readonly string[];
}

export interface SsoGateCheckOptions {
  readonly objects: readonly KubeObject[];
  readonly secretValue: (namespace: string, name: string, key: string) => string;
  readonly oauth2ProxyBin: string;
  /** Loopback URL of the running Keycloak. */
  readonly keycloakBase: string;
  /** Keycloak's in-cluster URL as synthesized (`http://keycloak.keycloak.svc:8080`), rewritten to `keycloakBase`. */
  readonly keycloakInternalUrl: string;
  /** Its public origin (`https://auth.<domain>`): where browsers are sent, rewritten to `keycloakBase`. */
  readonly keycloakPublicOrigin: string;
  readonly users: readonly GateUser[];
}

export interface GateResult {
  readonly app: string;
  readonly allowed: readonly string[];
  readonly outcome: Record<string, number>;
}

/** Every `<app>-sso` Deployment of the output, each checked with every user. */
export async function exerciseSsoGates(o: SsoGateCheckOptions): Promise<GateResult[]> {
  const gates = o.objects.filter((x) => x.kind === 'Deployment' && x.metadata.name.endsWith('-sso'));
  assert.ok(gates.length > 0, 'the output has SSO gates');
  const results: GateResult[] = [];
  const procs = new Processes('mlplat-e2e-sso');
  try {
    for (const gate of gates) results.push(await checkGate(o, procs, gate));
  } finally {
    procs.cleanup();
  }
  return results;
}

async function checkGate(o: SsoGateCheckOptions, procs: Processes, gate: KubeObject): Promise<GateResult> {
  const ns = gate.metadata.namespace!;
  const container = (gate as any).spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const e of container.env) env[e.name] = e.value ?? o.secretValue(ns, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
  const [port, metrics] = [await freePort(), await freePort()];
  const flag = (name: string) => (container.args as string[]).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const redirect = new URL(flag('redirect-url') ?? assert.fail(`${ns}/${gate.metadata.name}: no --redirect-url`));
  const host = redirect.host;
  const allowed = (container.args as string[]).filter((a) => a.startsWith('--allowed-group=')).map((a) => a.slice('--allowed-group='.length));
  // As synthesized; only listen addresses and the in-cluster Keycloak URL are local here.
  const args = (container.args as string[]).map((a) => {
    if (a.startsWith('--http-address=')) return `--http-address=127.0.0.1:${port}`;
    if (a.startsWith('--metrics-address=')) return `--metrics-address=127.0.0.1:${metrics}`;
    return a.replace(o.keycloakInternalUrl, o.keycloakBase);
  });
  const name = `oauth2-proxy-${gate.metadata.name}`;
  procs.start(name, `${o.oauth2ProxyBin}/oauth2-proxy`, args, { PATH: process.env.PATH, ...env });
  const base = `http://127.0.0.1:${port}`;
  try {
    await until(`${name} ready`, () => httpOk(`${base}/ping`), 30_000);
  } catch (e) {
    assert.fail(`${(e as Error).message}\n${procs.tail(name)}`);
  }

  // What Traefik's forwardAuth sends: the original request in X-Forwarded-* headers.
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': host, 'x-forwarded-uri': '/some/page?x=1', 'x-forwarded-method': 'GET' };
  const outcome: Record<string, number> = {};
  for (const user of o.users) {
    const jar = new Map<string, string>();
    const keep = (r: Response) => {
      for (const c of r.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        const v = pair.slice(i + 1);
        if (v === '') jar.delete(pair.slice(0, i).trim());
        else jar.set(pair.slice(0, i).trim(), v);
      }
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

    // 1. No session: redirected to the public login page with PKCE, back to this host's callback.
    const first = await fetch(`${base}/`, { redirect: 'manual', headers: forwarded });
    keep(first);
    assert.equal(first.status, 302, `${host}: an anonymous request is redirected to log in (got ${first.status})`);
    const login = new URL(first.headers.get('location')!);
    assert.equal(login.origin, o.keycloakPublicOrigin, `${host}: to the public Keycloak`);
    assert.equal(login.searchParams.get('redirect_uri'), redirect.href, `${host}: back to its own callback`);
    assert.equal(login.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(login.searchParams.get('client_id'), env.OAUTH2_PROXY_CLIENT_ID);

    // 2. The browser at Keycloak (its own cookies), then back at the gate's callback.
    const kc = new Map<string, string>();
    const kcKeep = (r: Response) => {
      for (const c of r.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        kc.set(pair.slice(0, i).trim(), pair.slice(i + 1));
      }
    };
    const local = (u: string) => `${o.keycloakBase}${u.slice(o.keycloakPublicOrigin.length)}`;
    const page = await fetch(local(login.href), { redirect: 'manual' });
    kcKeep(page);
    assert.equal(page.status, 200, `${host}: Keycloak shows the login page for client ${env.OAUTH2_PROXY_CLIENT_ID} (got ${page.status})`);
    const action = /<form[^>]*\baction="([^"]+)"/.exec(await page.text())?.[1].replace(/&amp;/g, '&') ?? assert.fail('no login form');
    const posted = await fetch(local(action), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: [...kc].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: user.username, password: user.password, credentialId: '' }),
    });
    assert.equal(posted.status, 302, `${host}: ${user.username} logs in at Keycloak`);
    const callback = new URL(posted.headers.get('location')!);
    assert.equal(`${callback.origin}${callback.pathname}`, redirect.href, `${host}: Keycloak sends the browser to the gate's callback`);
    const back = await fetch(`${base}${callback.pathname}${callback.search}`, {
      redirect: 'manual',
      headers: { cookie: cookie(), host, 'x-forwarded-proto': 'https', 'x-forwarded-host': host },
    });
    keep(back);
    const member = user.groups.some((g) => allowed.includes(g));
    if (!member) {
      assert.equal(back.status, 403, `${host}: ${user.username} (groups ${user.groups.join(', ')}) is refused at the callback (allowed: ${allowed.join(', ')}); got ${back.status}`);
      outcome[user.username] = 403;
      continue;
    }
    assert.equal(back.status, 302, `${host}: the callback redeems the code over the back-channel and starts a session (got ${back.status}: ${procs.tail(name, 5)})`);
    assert.equal(new URL(back.headers.get('location')!, `https://${host}`).href, `https://${host}/some/page?x=1`, `${host}: back to the page first asked for`);

    // 3. With the session cookie, forwardAuth is answered 202 with the user for the app.
    const authed = await fetch(`${base}/`, { redirect: 'manual', headers: { ...forwarded, cookie: cookie() } });
    assert.equal(authed.status, 202, `${host}: a signed-in member passes (got ${authed.status})`);
    assert.equal(authed.headers.get('x-auth-request-preferred-username'), user.username);
    const groups = (authed.headers.get('x-auth-request-groups') ?? '').split(',');
    for (const g of user.groups) assert.ok(groups.includes(g), `${host}: X-Auth-Request-Groups (${groups}) has ${g}`);
    outcome[user.username] = 202;
  }
  return { app: host.split('.')[0], allowed, outcome };
}

export interface TokenGateCheckOptions {
  readonly objects: readonly KubeObject[];
  readonly secretValue: (namespace: string, name: string, key: string) => string;
  readonly oauth2ProxyBin: string;
  /** Loopback URL of the running Keycloak (the gates fetch its keys there). */
  readonly keycloakBase: string;
  /** Keycloak's in-cluster URL as synthesized, rewritten to `keycloakBase`. */
  readonly keycloakInternalUrl: string;
  /** Namespace the token gates run in. */
  readonly namespace: string;
  /** An ID token of the public `kubernetes` client for the user, as `kubectl oidc-login get-token` gets it. */
  readonly idToken: (user: GateUser) => Promise<string>;
  readonly users: readonly GateUser[];
}

export interface TokenGateResult {
  /** `gate-<tenant>` */
  readonly gate: string;
  readonly allowed: readonly string[];
  /** Status per user with a Bearer ID token. */
  readonly outcome: Record<string, number>;
  /** Status without a token, and with a token whose signature is not Keycloak's. */
  readonly anonymous: number;
  readonly forged: number;
}

/**
 * Every token gate (`gate-<tenant>` Deployments of `namespace`, the forwardAuth of model routes)
 * run as synthesized, asked what Traefik asks for each request to a model: /oauth2/auth with the
 * client's `Authorization` header. A member's ID token passes (202 with X-Auth-Request-User for
 * the model), anything else is refused with 401 or 403; an API gate never redirects to a login.
 */
export async function exerciseTokenGates(o: TokenGateCheckOptions): Promise<TokenGateResult[]> {
  const gates = o.objects.filter((x) => x.kind === 'Deployment' && x.metadata.namespace === o.namespace && x.metadata.name.startsWith('gate-'));
  assert.ok(gates.length > 0, `the output has token gates in ${o.namespace}`);
  const tokens = new Map<string, string>();
  for (const u of o.users) tokens.set(u.username, await o.idToken(u));
  const results: TokenGateResult[] = [];
  const procs = new Processes('mlplat-e2e-token-gate');
  try {
    for (const gate of gates) {
      const container = (gate as any).spec.template.spec.containers[0];
      const env: Record<string, string> = {};
      for (const e of container.env) env[e.name] = e.value ?? o.secretValue(o.namespace, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
      const [port, metrics] = [await freePort(), await freePort()];
      const args = (container.args as string[]).map((a) => {
        if (a.startsWith('--http-address=')) return `--http-address=127.0.0.1:${port}`;
        if (a.startsWith('--metrics-address=')) return `--metrics-address=127.0.0.1:${metrics}`;
        return a.replace(o.keycloakInternalUrl, o.keycloakBase);
      });
      const allowed = args.filter((a) => a.startsWith('--allowed-group=')).map((a) => a.slice('--allowed-group='.length));
      const name = `oauth2-proxy-${gate.metadata.name}`;
      procs.start(name, `${o.oauth2ProxyBin}/oauth2-proxy`, args, { PATH: process.env.PATH, ...env });
      const base = `http://127.0.0.1:${port}`;
      await until(`${name} ready`, () => httpOk(`${base}/ping`), 30_000).catch((e) => assert.fail(`${(e as Error).message}\n${procs.tail(name)}`));

      // What Traefik's forwardAuth sends for a request to a model: the original request in
      // X-Forwarded-* headers, the client's Authorization header as it came.
      const ask = async (authorization?: string): Promise<Response> => {
        const r = await fetch(`${base}/oauth2/auth`, {
          redirect: 'manual',
          headers: {
            'x-forwarded-proto': 'https', 'x-forwarded-host': `model.${gate.metadata.name}.invalid`, 'x-forwarded-uri': '/v2/models/m/infer', 'x-forwarded-method': 'POST',
            ...(authorization ? { authorization } : {}),
          },
        });
        assert.ok(r.status < 300 || r.status >= 400, `${gate.metadata.name}: an API gate never redirects (got ${r.status} → ${r.headers.get('location')})`);
        return r;
      };
      const outcome: Record<string, number> = {};
      for (const u of o.users) {
        const r = await ask(`Bearer ${tokens.get(u.username)}`);
        outcome[u.username] = r.status;
        if (u.groups.some((g) => allowed.includes(g))) {
          assert.equal(r.status, 202, `${gate.metadata.name}: ${u.username} (groups ${u.groups.join(', ')}) passes with an ID token (got ${r.status}: ${procs.tail(name, 5)})`);
          assert.ok(r.headers.get('x-auth-request-user'), `${gate.metadata.name}: X-Auth-Request-User names ${u.username}`);
          assert.equal(r.headers.get('x-auth-request-preferred-username'), u.username);
        } else {
          assert.ok([401, 403].includes(r.status), `${gate.metadata.name}: ${u.username} (groups ${u.groups.join(', ')}; allowed: ${allowed.join(', ')}) is refused (got ${r.status})`);
        }
      }
      const anonymous = (await ask()).status;
      assert.equal(anonymous, 401, `${gate.metadata.name}: a request without a token is answered 401`);
      // A member's token with another signature: the gate checks Keycloak's keys.
      const member = o.users.find((u) => u.groups.some((g) => allowed.includes(g)));
      let forged = 0;
      if (member) {
        const [h, p] = tokens.get(member.username)!.split('.');
        forged = (await ask(`Bearer ${h}.${p}.${Buffer.from('not keycloak\'s signature').toString('base64url')}`)).status;
        assert.ok([401, 403].includes(forged), `${gate.metadata.name}: a forged token is refused (got ${forged})`);
      }
      results.push({ gate: gate.metadata.name, allowed, outcome, anonymous, forged });
    }
  } finally {
    procs.cleanup();
  }
  return results;
}
