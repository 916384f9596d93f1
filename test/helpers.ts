import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdk8s';
import { parsePlatform } from '../lib/config/load';
import { PlatformContext, PlatformContextProps } from '../lib/context';
import { ComponentChart } from '../lib/component';
import { KubeObject, renderTree } from '../lib/synth';
import { platformApp, MlPlatform } from '../stacks/platform';

export const ROOT = path.resolve(__dirname, '..');
export const ACME = path.join(ROOT, 'examples', 'acme', 'platform.yaml');
export const MINIMAL = path.join(ROOT, 'examples', 'minimal', 'platform.yaml');

/** Every object of a tree, in file order. */
export function objectsOf(app: App): KubeObject[] {
  return renderTree(app).flatMap((f) => f.objects);
}

/** Synthesizes config text into its objects. */
export function synthText(text: string): { objects: KubeObject[]; platform: MlPlatform } {
  const { spec } = parsePlatform(text, 'platform.yaml');
  const { app, platform } = platformApp(spec);
  return { objects: objectsOf(app), platform };
}

export function synthFile(file: string): { objects: KubeObject[]; platform: MlPlatform } {
  return synthText(fs.readFileSync(file, 'utf8'));
}

/** The one object of `kind` named `name` (in `namespace`); fails loudly when absent. */
export function find(objects: readonly KubeObject[], kind: string, name: string, namespace?: string): any {
  const hits = objects.filter((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
  if (hits.length !== 1) {
    throw new Error(`expected one ${kind} ${namespace ? `${namespace}/` : ''}${name}, found ${hits.length}`);
  }
  return hits[0];
}

export function all(objects: readonly KubeObject[], kind: string, namespace?: string): any[] {
  return objects.filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace));
}

/** A chart inside a fresh App with a platform context, for testing one construct alone. */
export function testChart(props: Partial<PlatformContextProps> = {}): { app: App; chart: ComponentChart } {
  const app = new App();
  PlatformContext.attach(app, { client: 'test', domain: 'ml.test.example', ...props });
  const chart = new ComponentChart(app, 'Test', { name: 'test', component: 'test', order: 0 });
  return { app, chart };
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-test-'));
}

/** The acme config with `patch` applied to its text (simple string replacement). */
export function acmeWith(replacements: Array<[string | RegExp, string]>): string {
  let text = fs.readFileSync(ACME, 'utf8');
  for (const [from, to] of replacements) {
    const found = typeof from === 'string' ? text.includes(from) : from.test(text);
    if (!found) throw new Error(`acmeWith: ${String(from)} not found`);
    text = text.replace(from, to);
  }
  return text;
}
