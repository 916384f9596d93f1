export * from './ceph';
export * from './minio';
export * from './types';
