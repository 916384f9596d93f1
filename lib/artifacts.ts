import { Construct, IConstruct } from 'constructs';

/** Subdirectory of the output for files that are not applied to the cluster. */
export const ACCESS_DIR = 'access';

const ARTIFACT = Symbol.for('mlplat.OutputArtifact');
const FILE_NAME = /^[a-z0-9][-a-z0-9.]*\.(yaml|md)$/;

export interface OutputArtifactProps {
  /** File name under `access/`, e.g. `kubeconfig-research.yaml`. */
  readonly fileName: string;
  /** Rendered when the output is written (after every component has been added). */
  readonly content: () => string;
}

/**
 * A file mlplat writes beside the manifests for people and other systems, never applied to the
 * cluster (not listed in any kustomization): e.g. the API server's authentication config and the
 * tenants' kubeconfig files. Written under `access/` of the output directory.
 */
export class OutputArtifact extends Construct {
  static isOutputArtifact(x: IConstruct): x is OutputArtifact {
    return (x as unknown as Record<symbol, unknown>)[ARTIFACT] === true;
  }

  readonly fileName: string;
  private readonly render: () => string;

  constructor(scope: Construct, id: string, props: OutputArtifactProps) {
    if (!FILE_NAME.test(props.fileName)) throw new Error(`output file name "${props.fileName}" must be lowercase letters, digits, "-" and "." ending in .yaml or .md`);
    super(scope, id);
    Object.defineProperty(this, ARTIFACT, { value: true });
    this.fileName = props.fileName;
    this.render = props.content;
  }

  /** Path relative to the output directory. */
  get path(): string {
    return `${ACCESS_DIR}/${this.fileName}`;
  }

  content(): string {
    return this.render();
  }
}
