export * from './cert-manager';
export * from './router';
export * from './sso-gate';
export * from './traefik';
export * from './types';
