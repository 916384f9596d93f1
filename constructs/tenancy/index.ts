export * from './tenant';
export * from './guard';
