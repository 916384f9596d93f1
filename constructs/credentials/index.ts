export * from './generator';
export * from './types';
