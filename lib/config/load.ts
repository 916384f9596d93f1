import * as fs from 'node:fs';
import { Document, isMap, isScalar, LineCounter, parseDocument, YAMLMap } from 'yaml';
import { z } from 'zod';
import { platformSchema, PlatformSpec } from './schema';
import { ConfigIssue, ConfigPath, formatPath, semanticIssues } from './semantics';

/** One problem in a config file, located at file:line:col. */
export interface LocatedIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** `spec.gpu.pools[1].sharing.profile`, or '' for the document itself. */
  readonly path: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

export function formatIssue(i: LocatedIssue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  const tag = i.severity === 'warning' ? 'warning: ' : '';
  return i.path ? `${where} ${tag}${i.path}: ${i.message}` : `${where} ${tag}${i.message}`;
}

/** A config that cannot be used. Carries every error (and warning) found in the file. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly LocatedIssue[],
  ) {
    const errors = issues.filter((i) => i.severity === 'error');
    super(`${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}\n${errors.map(formatIssue).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedPlatform {
  readonly spec: PlatformSpec;
  readonly warnings: readonly LocatedIssue[];
  /** The file as given, for messages. */
  readonly file: string;
}

/** Reads and validates a platform config file. Throws ConfigError listing every problem. */
export function loadPlatform(file: string): LoadedPlatform {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new ConfigError(file, [{ file, line: 1, col: 1, path: '', message: `cannot read config: ${reason}`, severity: 'error' }]);
  }
  return parsePlatform(text, file);
}

/** Validates config text; `file` names it in messages. Throws ConfigError listing every problem. */
export function parsePlatform(text: string, file: string): LoadedPlatform {
  const display = file;
  const lines = new LineCounter();
  // merge: YAML 1.1 `<<: *anchor` keys, which people use to share pool or tenant settings.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const locate = (offset: number) => {
    const pos = lines.linePos(offset);
    return { line: pos.line, col: pos.col };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      display,
      doc.errors.map((e) => ({
        file: display,
        ...locate(e.pos[0]),
        path: '',
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
        severity: 'error' as const,
      })),
    );
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (e) {
    // e.g. an alias "bomb" that would expand without bound
    throw new ConfigError(display, [{ file: display, line: 1, col: 1, path: '', message: `YAML: ${(e as Error).message}`, severity: 'error' }]);
  }
  if (text.trim() === '' || (typeof raw === 'object' && raw !== null && Object.keys(raw).length === 0 && !Array.isArray(raw))) {
    throw new ConfigError(display, [{ file: display, line: 1, col: 1, path: '', message: 'the file is empty: it should hold one Platform document (run `mlplat init <client>` for a commented start)', severity: 'error' }]);
  }
  const issues: ConfigIssue[] = [];
  const parsed = platformSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap((i) => fromZod(i)));
  issues.push(...semanticIssues(raw));

  const located = dedupe(
    issues.map((i) => ({
      file: display,
      ...locate(offsetOf(doc, i.path, i.at)),
      path: formatPath(i.path),
      message: i.message,
      severity: i.severity,
    })),
  ).sort((a, b) => a.line - b.line || a.col - b.col);

  if (!parsed.success || located.some((i) => i.severity === 'error')) {
    throw new ConfigError(display, located);
  }
  return { spec: parsed.data, warnings: located, file: display };
}

/** Turns a zod issue into config issues with messages a platform engineer can act on. */
function fromZod(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const error = (p: ConfigPath, message: string, at?: 'key'): ConfigIssue => ({ path: p, message, severity: 'error', at });
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => error([...path, k], `unknown field "${k}"${suggestKeys(path)}`, 'key'));
    case 'invalid_type':
      if (issue.input === undefined) return [error(path, `is required (${issue.expected})`)];
      return [error(path, `must be ${article(issue.expected)}, not ${describe(issue.input)}`)];
    case 'invalid_union': {
      if (issue.input === undefined) return [error(path, 'is required')];
      const discriminator = (issue as { discriminator?: string }).discriminator;
      if (discriminator) {
        const at = path[path.length - 1] === discriminator ? path : [...path, discriminator];
        return [error(at, `must be one of: ${unionModes(at.slice(0, -1), discriminator).join(', ')}`)];
      }
      return [error(path, issue.message)];
    }
    case 'invalid_key': {
      // a record key (e.g. a nodeSelector label key) failed its own check: report that check
      const inner = (issue as { issues?: z.core.$ZodIssue[] }).issues?.[0];
      return [error(path, inner ? `key: ${inner.message}` : issue.message, 'key')];
    }
    case 'invalid_value':
      return [error(path, `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`)];
    default:
      return [error(path, issue.message)];
  }
}

const article = (t: string) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Walks the zod schema to the object at `path`, to list its valid fields in messages. */
function schemaAt(path: ConfigPath): z.core.$ZodType | undefined {
  let s: z.core.$ZodType | undefined = platformSchema;
  for (const part of path) {
    s = unwrap(s);
    if (!s) return undefined;
    const def = s._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'object') s = (def.shape as Record<string, z.core.$ZodType>)[String(part)];
    else if (def.type === 'array') s = def.element as z.core.$ZodType;
    else if (def.type === 'record') s = def.valueType as z.core.$ZodType;
    else return undefined;
  }
  return unwrap(s);
}

function unwrap(s: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  while (s) {
    const def = s._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'default' || def.type === 'optional' || def.type === 'prefault') s = def.innerType as z.core.$ZodType;
    else if (def.type === 'pipe') s = def.in as z.core.$ZodType;
    else return s;
  }
  return s;
}

function suggestKeys(path: ConfigPath): string {
  const s = schemaAt(path);
  const def = s?._zod.def as unknown as Record<string, unknown> | undefined;
  if (def?.type !== 'object') return '';
  const keys = Object.keys(def.shape as object).filter((k) => k !== '$schema');
  return ` (valid fields: ${keys.join(', ')})`;
}

function unionModes(path: ConfigPath, discriminator: string): string[] {
  const s = schemaAt(path);
  const def = s?._zod.def as unknown as { options?: z.core.$ZodType[] } | undefined;
  return (def?.options ?? []).flatMap((o) => {
    const shape = (o._zod.def as unknown as { shape?: Record<string, z.core.$ZodType> }).shape;
    const mode = shape?.[discriminator]?._zod.def as unknown as { values?: unknown[] } | undefined;
    return (mode?.values ?? []).map(String);
  });
}

/** Source offset of the node at `path`, or of its nearest existing ancestor. */
function offsetOf(doc: Document, p: ConfigPath, at: 'key' | 'value' = 'value'): number {
  for (let depth = p.length; depth >= 0; depth--) {
    const sub = p.slice(0, depth);
    if (at === 'key' && depth === p.length && depth > 0) {
      const parent = sub.length > 1 ? doc.getIn(sub.slice(0, -1), true) : doc.contents;
      if (isMap(parent)) {
        const pair = (parent as YAMLMap).items.find((it) => isScalar(it.key) && it.key.value === sub[sub.length - 1]);
        const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
        if (range) return range[0];
      }
      continue;
    }
    const node = sub.length === 0 ? doc.contents : doc.getIn(sub, true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return range[0];
  }
  return 0;
}

/** One message per field and severity (the first: checks of one field can pile up). */
function dedupe(issues: LocatedIssue[]): LocatedIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = i.path ? `${i.severity} ${i.path}` : formatIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
