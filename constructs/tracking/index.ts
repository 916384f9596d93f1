export * from './clearml';
export * from './mlflow';
