import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CredentialGenerator, externalSecret } from '../../constructs/credentials/generator';
import { all, find, objectsOf, testChart, tmpDir } from '../helpers';

function fixture() {
  const { app, chart } = testChart();
  const gen = new CredentialGenerator(chart, 'Credentials');
  return { app, gen };
}

/** A fake kubectl for running the generator script: Secrets are files under $STATE. */
const FAKE_KUBECTL = `#!/bin/sh
# get secret -n NS NAME -o name | -o jsonpath={.data.KEY}
# create secret generic NAME -n NS --type=T --from-file=k=path... --dry-run=client -o yaml
# label --local -f - k=v -o yaml ; create -f -
set -eu
case "$1 $2" in
  "get secret")
    ns=$4 name=$5 out=$7
    [ -d "$STATE/$ns/$name" ] || { echo "NotFound" >&2; exit 1; }
    case $out in
      name) echo "secret/$name" ;;
      jsonpath=*) key=\${out#jsonpath=\\{.data.}; key=\${key%\\}}; [ -f "$STATE/$ns/$name/$key" ] && base64 -w0 <"$STATE/$ns/$name/$key" ;;
    esac ;;
  "create secret")
    name=$4 ns=$6; shift 7
    echo "ns=$ns"; echo "name=$name"
    for a in "$@"; do case $a in --from-file=*) kv=\${a#--from-file=}; echo "file=\${kv%%=*}=\${kv#*=}" ;; esac; done ;;
  "label --local") cat ;;
  "create -f")
    while read -r line; do
      case $line in
        ns=*) ns=\${line#ns=} ;;
        name=*) name=\${line#name=} ;;
        file=*) kv=\${line#file=}; mkdir -p "$STATE/$ns/$name"; cp "\${kv#*=}" "$STATE/$ns/$name/\${kv%%=*}" ;;
      esac
    done
    echo "secret/$name created" ;;
  *) echo "fake kubectl: unsupported: $*" >&2; exit 2 ;;
esac
`;

describe('CredentialGenerator', () => {
  it('creates its namespace, ServiceAccount, script ConfigMap and a Job named after the script', () => {
    const { app, gen } = fixture();
    gen.secret('apps', 'db', { username: { value: 'app' }, password: { generate: 32 } });
    const objects = objectsOf(app);
    assert.equal(find(objects, 'Namespace', 'mlplat-system').metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    find(objects, 'ServiceAccount', 'mlplat-credentials', 'mlplat-system');
    const script = find(objects, 'ConfigMap', 'mlplat-credentials', 'mlplat-system').data['generate.sh'];
    assert.match(script, /begin 'apps' 'db' 'Opaque'\n {2}lit username 'app'\n {2}gen password 32\ncommit/);
    const job = all(objects, 'Job', 'mlplat-system')[0];
    assert.equal(job.metadata.name, gen.jobName());
    assert.match(job.metadata.name, /^mlplat-credentials-[0-9a-f]{10}$/);
    const pod = job.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'mlplat-credentials');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
  });

  it('gives its ServiceAccount create and named get on Secrets, per namespace, and nothing else', () => {
    const { app, gen } = fixture();
    const root = gen.secret('store', 'root', { password: { generate: 40 } });
    gen.secret('tenant-a', 'copy', { password: { copyFrom: root, key: 'password' } });
    gen.secret('tenant-a', 'other', { token: { generate: 20 } });
    const objects = objectsOf(app);
    const store = find(objects, 'Role', 'mlplat-credentials', 'store');
    assert.deepEqual(store.rules, [
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['root'] },
    ]);
    assert.deepEqual(find(objects, 'Role', 'mlplat-credentials', 'tenant-a').rules[1].resourceNames, ['copy', 'other']);
    const binding = find(objects, 'RoleBinding', 'mlplat-credentials', 'tenant-a');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'mlplat-credentials', namespace: 'mlplat-system' }]);
    for (const role of all(objects, 'Role')) {
      for (const rule of role.rules) assert.ok(!rule.verbs.some((v: string) => ['list', 'watch', 'update', 'patch', 'delete', '*'].includes(v)), JSON.stringify(rule));
    }
  });

  it('lists the Secrets of other producers that copies wait for', () => {
    const { gen } = fixture();
    const rook = externalSecret('rook-ceph', 'rook-ceph-object-user-s3-app', ['AccessKey', 'SecretKey'], 'rook-ceph');
    const own = gen.secret('a', 'own', { k: { generate: 16 } });
    gen.secret('b', 'copy', { AWS_ACCESS_KEY_ID: { copyFrom: rook, key: 'AccessKey' }, AWS_SECRET_ACCESS_KEY: { copyFrom: rook, key: 'SecretKey' }, k: { copyFrom: own, key: 'k' } });
    assert.deepEqual(gen.externalSources, [rook]);
    assert.deepEqual(gen.secrets.map((x) => x.name), ['own', 'copy']);
  });

  it('renames the Job when a Secret is added, so a changed template is a new Job', () => {
    const { gen } = fixture();
    gen.secret('a', 'one', { k: { generate: 16 } });
    const before = gen.jobName();
    gen.secret('a', 'two', { k: { generate: 16 } });
    assert.notEqual(gen.jobName(), before);
  });

  it('rejects duplicates, bad keys, weak lengths and copies of unknown keys', () => {
    const { gen } = fixture();
    const s = gen.secret('a', 'one', { k: { generate: 16 } });
    assert.throws(() => gen.secret('a', 'one', { k: { generate: 16 } }), /Secret a\/one is declared twice/);
    assert.throws(() => gen.secret('a', 'two', { 'bad.key': { generate: 16 } }), /key "bad.key" must match/);
    assert.throws(() => gen.secret('a', 'three', { k: { generate: 8 } }), /16 to 128 characters, not 8/);
    assert.throws(() => gen.secret('a', 'four', { k: { copyFrom: s, key: 'nope' } }), /Secret a\/one has no key "nope"/);
    assert.throws(() => gen.secret('a', 'five', {}), /at least one key/);
    assert.throws(() => externalSecret('x', 'y', ['a'], 'someone').keyRef('b'), /has no key "b"/);
  });

  it('never writes a value into the output: generated keys are instructions, not values', () => {
    const { app, gen } = fixture();
    gen.secret('a', 'one', { user: { value: 'alice' }, password: { generate: 40 } });
    const objects = objectsOf(app);
    assert.equal(all(objects, 'Secret').length, 0);
    const script = find(objects, 'ConfigMap', 'mlplat-credentials', 'mlplat-system').data['generate.sh'];
    assert.match(script, /\n {2}gen password 40\n/);
    assert.ok(!/lit password/.test(script));
  });

  it('may only read, not create, Secrets in namespaces it merely copies from', () => {
    const { app, gen } = fixture();
    const rook = externalSecret('rook-ceph', 'user', ['AccessKey'], 'rook-ceph');
    gen.secret('app', 'copy', { k: { copyFrom: rook, key: 'AccessKey' } });
    const objects = objectsOf(app);
    assert.deepEqual(find(objects, 'Role', 'mlplat-credentials', 'rook-ceph').rules, [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['user'] }]);
    assert.equal(find(objects, 'Role', 'mlplat-credentials', 'app').rules[0].verbs[0], 'create');
  });

  it('script creates the Secrets that do not wait first, and skips (then fails) one whose source never appears', () => {
    const { gen } = fixture();
    const rook = externalSecret('rook-ceph', 'user', ['AccessKey'], 'rook-ceph');
    gen.secret('app', 'late', { k: { copyFrom: rook, key: 'AccessKey' } });
    gen.secret('app', 'own', { k: { generate: 16 } });
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'kubectl'), FAKE_KUBECTL, { mode: 0o755 });
    const r = spawnSync('sh', ['-c', gen.script()], {
      env: { PATH: process.env.PATH, KUBECTL: path.join(dir, 'kubectl'), STATE: path.join(dir, 'state'), COPY_TRIES: '2', COPY_INTERVAL: '0' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^created: app\/own$/m);
    assert.match(r.stderr, /rook-ceph\/user has no key AccessKey; skipping app\/late/);
    assert.ok(!fs.existsSync(path.join(dir, 'state', 'app', 'late')));
  });

  it('script creates each Secret once, copies across namespaces, and leaves existing Secrets alone', () => {
    const { gen } = fixture();
    const root = gen.secret('store', 'root', { user: { value: "it's me" }, password: { generate: 40 } });
    gen.secret('tenant', 'copy', { AWS_SECRET_ACCESS_KEY: { copyFrom: root, key: 'password' }, AWS_ACCESS_KEY_ID: { copyFrom: root, key: 'user' } });
    const dir = tmpDir();
    const state = path.join(dir, 'state');
    fs.mkdirSync(state);
    fs.writeFileSync(path.join(dir, 'kubectl'), FAKE_KUBECTL, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'generate.sh'), gen.script());
    const run = () => execFileSync('sh', [path.join(dir, 'generate.sh')], { env: { PATH: process.env.PATH, KUBECTL: path.join(dir, 'kubectl'), STATE: state }, encoding: 'utf8' });
    assert.match(run(), /created: store\/root\ncreated: tenant\/copy\n/);
    const password = fs.readFileSync(path.join(state, 'store/root/password'), 'utf8');
    assert.match(password, /^[A-Za-z0-9]{40}$/);
    assert.equal(fs.readFileSync(path.join(state, 'store/root/user'), 'utf8'), "it's me");
    assert.equal(fs.readFileSync(path.join(state, 'tenant/copy/AWS_SECRET_ACCESS_KEY'), 'utf8'), password);
    assert.equal(fs.readFileSync(path.join(state, 'tenant/copy/AWS_ACCESS_KEY_ID'), 'utf8'), "it's me");
    assert.match(run(), /exists: {2}store\/root\nexists: {2}tenant\/copy\n/);
    assert.equal(fs.readFileSync(path.join(state, 'store/root/password'), 'utf8'), password, 'a second run keeps the value');
  });
});
