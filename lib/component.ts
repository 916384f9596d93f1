import { Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { PlatformContext } from './context';

export interface ComponentChartProps {
  /** Component name: `app.kubernetes.io/name` and the output file name. */
  readonly name: string;
  /** Component role: `app.kubernetes.io/component`. */
  readonly component: string;
  /**
   * Apply order among components; lower first. Components a later one depends on
   * (namespaces it uses, CRDs it instantiates) must have a lower order.
   */
  readonly order: number;
}

/**
 * One platform component's chart: one output file, `NN-<name>.yaml`, and the labels every
 * object of the component carries.
 */
export class ComponentChart extends Chart {
  static isComponentChart(x: IConstruct): x is ComponentChart {
    return x instanceof ComponentChart;
  }

  readonly componentName: string;
  readonly order: number;

  constructor(scope: Construct, id: string, props: ComponentChartProps) {
    super(scope, id, {
      disableResourceNameHashes: true,
      labels: PlatformContext.of(scope).labels(props.name, props.component),
    });
    this.componentName = props.name;
    this.order = props.order;
  }
}
