export * from './start-page';
