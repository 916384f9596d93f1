import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { stringify } from 'yaml';
import { ConfigError, formatIssue, loadPlatform, LoadedPlatform } from '../lib/config/load';
import { platformJsonSchema } from '../lib/config/schema';
import { ACCESS_DIR } from '../lib/artifacts';
import { PACKAGE_ROOT } from '../lib/assets';
import { AFTER_OPERATORS_DIR, outputFiles, renderTree, ValidationError, writeAtomically } from '../lib/synth';
import { platformApp } from '../stacks/platform';
import { scaffoldConfig, scaffoldStack } from './scaffold';

export const DEFAULT_CONFIG = path.join(PACKAGE_ROOT, 'examples', 'acme', 'platform.yaml');

/** Exit codes: 0 success, 1 invalid config or platform, 2 usage error. */
export const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

class ExitError extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function load(file: string, io: Io): LoadedPlatform {
  const loaded = loadPlatform(file);
  for (const w of loaded.warnings) io.err(`${formatIssue(w)}\n`);
  return loaded;
}

export function buildProgram(io: Io): Command {
  const program = new Command('mlplat')
    .description('Stand up a complete ML platform on Kubernetes, one per client, from code.')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('synth')
    .description('Synthesize the platform into one YAML file per component, numbered in apply order.')
    .argument('[config]', 'platform config file', path.relative(process.cwd(), DEFAULT_CONFIG) || DEFAULT_CONFIG)
    .option('-o, --out <dir>', 'output directory (default: dist/<client>/)')
    .action((config: string, opts: { out?: string }) => {
      const started = process.hrtime.bigint();
      const { spec } = load(config, io);
      const { app } = platformApp(spec);
      const files = outputFiles(app);
      const outDir = opts.out ?? path.join('dist', spec.metadata.name);
      try {
        writeAtomically(outDir, files);
      } catch (e) {
        io.err(`${(e as Error).message}\n`);
        throw new ExitError(EXIT.invalid);
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const manifests = files.filter((f) => f.count > 0);
      const total = manifests.reduce((n, f) => n + f.count, 0);
      for (const f of manifests) io.out(`  ${path.join(outDir, f.name)}  (${f.count} objects)\n`);
      io.out(`synthesized ${spec.metadata.name}: ${total} objects in ${manifests.length} files, ${ms.toFixed(0)} ms\n`);
      if (files.some((f) => f.name.startsWith(`${AFTER_OPERATORS_DIR}/`))) {
        io.out(`apply ${path.join(outDir, AFTER_OPERATORS_DIR)}/ once the operators of the first layer are ready (README: Deploying)\n`);
      }
      const access = files.filter((f) => f.name.startsWith(`${ACCESS_DIR}/`));
      if (access.length > 0) {
        io.out(`${path.join(outDir, ACCESS_DIR)}/: ${access.map((f) => path.basename(f.name)).join(', ')} (for the cluster's admins and users, not applied; docs/identity.md)\n`);
      }
    });

  program
    .command('validate')
    .description('Check a platform config; exit 0 when valid, 1 with every error on stderr when not.')
    .argument('<config>', 'platform config file')
    .action((config: string) => {
      const { spec } = load(config, io);
      renderTree(platformApp(spec).app);
      io.out(`${config}: valid (client ${spec.metadata.name})\n`);
    });

  program
    .command('schema')
    .description('Print the config JSON Schema (for editors: yaml-language-server).')
    .action(() => io.out(`${JSON.stringify(platformJsonSchema(), null, 2)}\n`));

  program
    .command('init')
    .description('Scaffold a commented config for a new client, and its Pulumi stack file.')
    .argument('<client>', 'client id (a DNS-1123 label, e.g. globex)')
    .option('-d, --dir <dir>', 'where client configs live', 'clients')
    .option('--domain <domain>', 'domain the apps are served under (default: ml.<client>.example)')
    .option('--force', 'overwrite existing files', false)
    .action((client: string, opts: { dir: string; domain?: string; force: boolean }) => {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(client) || client.length > 63) {
        throw new CommanderError(EXIT.usage, 'mlplat.usage', `error: client "${client}" must be a DNS-1123 label (lowercase letters, digits, "-")\n`);
      }
      const domain = opts.domain ?? `ml.${client}.example`;
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(domain) || domain.length > 253) {
        throw new CommanderError(EXIT.usage, 'mlplat.usage', `error: domain "${domain}" must be a lowercase DNS name, e.g. ml.${client}.example\n`);
      }
      const configFile = path.join(opts.dir, client, 'platform.yaml');
      const stackFile = `Pulumi.${client}.yaml`;
      for (const f of [configFile, stackFile]) {
        if (fs.existsSync(f) && !opts.force) {
          io.err(`${f} already exists (use --force to overwrite)\n`);
          throw new ExitError(EXIT.invalid);
        }
      }
      const schemaPath = path.relative(path.dirname(configFile), path.join(PACKAGE_ROOT, 'docs', 'platform.schema.json'));
      fs.mkdirSync(path.dirname(configFile), { recursive: true });
      fs.writeFileSync(configFile, scaffoldConfig(client, domain, schemaPath));
      // The stack file names the config relative to where Pulumi runs (here), never by absolute path.
      fs.writeFileSync(stackFile, scaffoldStack(path.relative(process.cwd(), path.resolve(configFile))));
      load(configFile, io);
      io.out(`created ${configFile} and ${stackFile}; next: edit the config, then run mlplat validate ${configFile}\n`);
    });

  program
    .command('nodes')
    .description('Print the labels and taints each GPU pool\'s nodes must carry (the node contract).')
    .argument('[config]', 'platform config file', path.relative(process.cwd(), DEFAULT_CONFIG) || DEFAULT_CONFIG)
    .action((config: string) => {
      const { spec } = load(config, io);
      const { platform } = platformApp(spec);
      const pools = platform.gpu.pools.map((p) => ({
        pool: p.name,
        gpuModel: p.gpuModel,
        resource: p.resourceName,
        capacityPerNode: p.gpusPerNode * p.unitsPerGpu,
        labels: p.nodeLabels,
        taints: p.nodeTaints.map((t) => `${t.key}=${t.value}:${t.effect}`),
      }));
      io.out(stringify({ pools }));
    });

  return program;
}

/** Runs the CLI; returns the exit code instead of exiting (testable). */
export function run(argv: readonly string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): number {
  const program = buildProgram(io);
  if (argv.length === 0) {
    // `mlplat` alone: show the commands, as a usage error.
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    program.parse(argv as string[], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ExitError) return e.code;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return EXIT.ok;
      if (e.code === 'mlplat.usage') io.err(e.message);
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      io.err(`${e.issues.map(formatIssue).join('\n')}\n`);
      return EXIT.invalid;
    }
    if (e instanceof ValidationError) {
      io.err(`${e.message}\n`);
      return EXIT.invalid;
    }
    throw e;
  }
}
