export * from './keycloak';
export * from './kubernetes-access';
export * from './types';
