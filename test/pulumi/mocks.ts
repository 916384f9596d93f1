import * as pulumi from '@pulumi/pulumi';

/** A resource the program registered with Pulumi's mock engine. */
export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: any;
}

/** Installs Pulumi mocks for `stack` that echo inputs as state; returns the registrations, in order. */
export async function recordResources(stack: string): Promise<Registered[]> {
  const registered: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'mlplat',
    stack,
    false,
  );
  return registered;
}
