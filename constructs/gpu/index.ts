export * from './models';
export * from './mig';
export * from './pool';
export * from './values';
export * from './access-policy';
export * from './operator';
