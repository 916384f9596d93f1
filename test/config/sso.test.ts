import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, formatIssue, loadPlatform, parsePlatform } from '../../lib/config/load';
import { ACME, acmeWith, find, ROOT, synthFile, synthText } from '../helpers';

const INITECH = path.join(ROOT, 'examples', 'initech', 'platform.yaml');

/** The formatted errors of config text (fails if it is valid). */
function errorsOf(text: string): string[] {
  try {
    parsePlatform(text, 'platform.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.issues.filter((i) => i.severity === 'error').map(formatIssue);
  }
  assert.fail('config was accepted');
}

/** The 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} not found`);
  return i + 1;
}

const ACME_INGRESS = /\n  ingress:.*\n(    .*\n)+  tls:\n(    .*\n)+/;
const ACME_SSO = /\n  sso:.*\n(    .*\n)+/;
const ACME_STORAGE_USERS = [/\n  storage:\n(    .*\n)+/, /\n  tracking:\n(    .*\n)+/, /\n  datasetCache:\n(    .*\n)+/] as const;
/** acme's models and observability need the ingress, sso and storage too (test/config/serving.test.ts); these tests are about sso. */
const ACME_SERVING: [RegExp, string] = [/\n  serving:.*\n(    .*\n)+/, '\n'];
const ACME_OBSERVABILITY: [RegExp, string] = [/\n  observability:.*\n(    .*\n)+/, '\n'];

describe('config: spec.sso', () => {
  it('accepts acme and initech as written', () => {
    const a = loadPlatform(ACME);
    assert.deepEqual(a.warnings, []);
    assert.deepEqual(a.spec.spec.sso, {
      adminGroups: ['platform-admins'],
      editorGroups: ['ml-leads'],
      viewerGroups: [],
      replicas: 1,
      kubernetesApiServer: 'https://k8s.acme.example:6443',
    });
    const i = loadPlatform(INITECH);
    assert.deepEqual(i.warnings, []);
    assert.ok(i.spec.spec.sso);
    assert.ok(i.spec.spec.ingress);
  });

  it('fills the documented defaults, and the realm defaults to the client id in the output', () => {
    const { spec } = loadPlatform(INITECH);
    assert.equal(spec.spec.sso!.realm, undefined);
    assert.deepEqual(spec.spec.sso, { adminGroups: ['platform-admins'], editorGroups: [], viewerGroups: [], replicas: 1 });
    const { objects, platform } = synthFile(INITECH);
    const realm = JSON.parse(find(objects, 'ConfigMap', 'keycloak-realm', 'keycloak').data['realm.json']);
    assert.equal(realm.realm, 'initech', 'realm: the client id (metadata.name)');
    assert.equal(platform.sso!.issuerUrl, 'https://auth.ml.initech.example/realms/initech');
    assert.deepEqual(realm.groups.find((g: any) => g.name === 'platform-admins'), { name: 'platform-admins', realmRoles: ['admin'] });
    const server = find(objects, 'Deployment', 'keycloak', 'keycloak');
    assert.equal(server.spec.replicas, 1);
    assert.equal(server.spec.template.spec.containers[0].env.find((e: any) => e.name === 'KC_CACHE').value, 'local');
  });

  it('passes realm, role groups and replicas through to Keycloak', () => {
    const text = acmeWith([['adminGroups: [platform-admins]', 'realm: staff\n    adminGroups: [ops]\n    viewerGroups: [everyone]\n    replicas: 2\n    image: registry.acme.internal/keycloak/keycloak:26.7.3']]);
    const { spec } = parsePlatform(text, 'platform.yaml');
    assert.equal(spec.spec.sso!.realm, 'staff');
    assert.deepEqual(spec.spec.sso!.adminGroups, ['ops']);
    const { objects } = synthText(text);
    const realm = JSON.parse(find(objects, 'ConfigMap', 'keycloak-realm', 'keycloak').data['realm.json']);
    assert.equal(realm.realm, 'staff');
    assert.deepEqual(realm.groups.slice(0, 3), [
      { name: 'ops', realmRoles: ['admin'] },
      { name: 'ml-leads', realmRoles: ['editor'] },
      { name: 'everyone', realmRoles: ['viewer'] },
    ]);
    const server = find(objects, 'Deployment', 'keycloak', 'keycloak');
    assert.equal(server.spec.replicas, 2);
    assert.equal(server.spec.template.spec.containers[0].image, 'registry.acme.internal/keycloak/keycloak:26.7.3');
    find(objects, 'PodDisruptionBudget', 'keycloak', 'keycloak');
  });

  it('needs the ingress: sso without ingress is an error at spec.sso', () => {
    const text = acmeWith([ACME_SERVING, ACME_OBSERVABILITY, [ACME_INGRESS, '\n']]);
    const line = lineOf(text, '  sso:') + 1;
    assert.deepEqual(errorsOf(text), [`platform.yaml:${line}:5 spec.sso: Keycloak is served at auth.<domain> through the ingress: add spec.ingress`]);
  });

  it('needs sso with the ingress: the ingress without sso is an error at spec.ingress', () => {
    const text = acmeWith([ACME_SERVING, ACME_OBSERVABILITY, [ACME_SSO, '\n']]);
    const line = lineOf(text, '  ingress:') + 1;
    assert.deepEqual(errorsOf(text), [`platform.yaml:${line}:5 spec.ingress: every app the ingress routes sits behind SSO: add spec.sso (Keycloak)`]);
  });

  it('needs storage (the database backups): sso without storage is an error at spec.sso', () => {
    const text = acmeWith([ACME_SERVING, ACME_OBSERVABILITY, ...ACME_STORAGE_USERS.map((r) => [r, '\n'] as [RegExp, string])]);
    const line = lineOf(text, '  sso:') + 1;
    assert.deepEqual(errorsOf(text), [
      `platform.yaml:${line}:5 spec.sso: Keycloak keeps its data in the platform PostgreSQL, whose backups go to the object store: add spec.storage`,
    ]);
  });

  it(
    'reports every missing part of an empty sso at once (initech without ingress and storage)',
    () => {
      const initech = fs.readFileSync(INITECH, 'utf8');
      const text = initech
        .replace(/\n  ingress:.*\n(    .*\n)+/, '\n')
        .replace(/\n  storage:\n(    .*\n)+/, '\n')
        .replace(/\n  tracking:\n(    .*\n)+/, '\n')
        .replace(/\n  datasetCache:.*\n(    .*\n)+/, '\n')
        .replace(/\n  serving:.*\n(    .*\n)+/, '\n')
        // Observability needs storage too (reported at spec.observability, tested in serving.test.ts).
        .replace(/\n  observability: \{\}.*\n/, '\n');
      const errors = errorsOf(text);
      const line = lineOf(text, '  sso: {}');
      assert.ok(errors.every((e) => e.startsWith(`platform.yaml:${line}:8 spec.sso: `)), errors.join('\n'));
      assert.match(errors.join('\n'), /add spec\.ingress/);
      assert.match(errors.join('\n'), /add spec\.storage/);
    },
  );

  it('refuses a group with two roles, at the second entry', () => {
    const text = acmeWith([['editorGroups: [ml-leads]', 'editorGroups: [ml-leads]\n    viewerGroups: [everyone, platform-admins]']]);
    const line = lineOf(text, 'viewerGroups:');
    const col = text.split('\n')[line - 1].indexOf('platform-admins') + 1;
    assert.deepEqual(errorsOf(text), [
      `platform.yaml:${line}:${col} spec.sso.viewerGroups[1]: group "platform-admins" is already listed in adminGroups: give each group one platform role`,
    ]);
    const editor = acmeWith([['editorGroups: [ml-leads]', 'editorGroups: [ml-leads]\n    viewerGroups: [ml-leads]']]);
    assert.deepEqual(errorsOf(editor), [
      `platform.yaml:${lineOf(editor, 'viewerGroups:')}:20 spec.sso.viewerGroups[0]: group "ml-leads" is already listed in editorGroups: give each group one platform role`,
    ]);
    const twice = acmeWith([['adminGroups: [platform-admins]', 'adminGroups: [platform-admins, platform-admins]']]);
    const twiceLine = lineOf(twice, 'adminGroups:');
    const twiceCol = twice.split('\n')[twiceLine - 1].lastIndexOf('platform-admins') + 1;
    assert.deepEqual(errorsOf(twice), [
      `platform.yaml:${twiceLine}:${twiceCol} spec.sso.adminGroups[1]: group "platform-admins" is already listed in adminGroups: give each group one platform role`,
    ]);
  });

  it('checks the fields: at least one admin group, plain group names, replicas, realm name, no unknown field', () => {
    const at = (text: string, needle: string) => lineOf(text, needle);
    const none = acmeWith([['adminGroups: [platform-admins]', 'adminGroups: []']]);
    assert.deepEqual(errorsOf(none), [`platform.yaml:${at(none, 'adminGroups')}:18 spec.sso.adminGroups: name at least one group of platform admins`]);
    const slash = acmeWith([['editorGroups: [ml-leads]', 'editorGroups: [ml/leads, "ml leads"]']]);
    const slashErrors = errorsOf(slash);
    assert.equal(slashErrors.length, 2);
    assert.match(slashErrors[0], /^platform\.yaml:\d+:\d+ spec\.sso\.editorGroups\[0\]: a group name: letters, digits, "\.", "_" and "-", starting with a letter or digit$/);
    assert.match(slashErrors[1], /^platform\.yaml:\d+:\d+ spec\.sso\.editorGroups\[1\]: a group name: letters, digits, "\.", "_" and "-", starting with a letter or digit$/);
    const zero = acmeWith([['adminGroups: [platform-admins]', 'replicas: 0']]);
    assert.match(errorsOf(zero)[0], new RegExp(`^platform\\.yaml:${at(zero, 'replicas: 0')}:15 spec\\.sso\\.replicas: `));
    const six = acmeWith([['adminGroups: [platform-admins]', 'replicas: 6']]);
    assert.match(errorsOf(six)[0], /spec\.sso\.replicas: /);
    const realm = acmeWith([['adminGroups: [platform-admins]', 'realm: Acme_Realm']]);
    assert.match(errorsOf(realm)[0], new RegExp(`^platform\\.yaml:${at(realm, 'realm:')}:12 spec\\.sso\\.realm: must be a DNS-1123 label`));
    const unknown = acmeWith([['adminGroups: [platform-admins]', 'theme: dark']]);
    assert.deepEqual(errorsOf(unknown), [
      `platform.yaml:${at(unknown, 'theme')}:5 spec.sso.theme: unknown field "theme" (valid fields: realm, adminGroups, editorGroups, viewerGroups, replicas, kubernetesApiServer, image)`,
    ]);
    const http = acmeWith([['kubernetesApiServer: https://', 'kubernetesApiServer: http://']]);
    assert.match(errorsOf(http)[0], new RegExp(`^platform\\.yaml:${at(http, 'kubernetesApiServer')}:26 spec\\.sso\\.kubernetesApiServer: `));
  });

  it(
    'says what would be valid for an http API server URL',
    () => {
      const [e] = errorsOf(acmeWith([['kubernetesApiServer: https://', 'kubernetesApiServer: http://']]));
      assert.match(e, /spec\.sso\.kubernetesApiServer: .*https/);
    },
  );
});
