export * as gpu from './gpu';
export * as tenancy from './tenancy';
