export * as cache from './cache/dataset-cache';
export * as credentials from './credentials';
export * as database from './database/postgres';
export * as gpu from './gpu';
export * as storage from './storage';
export * as tenancy from './tenancy';
export * as tracking from './tracking';
