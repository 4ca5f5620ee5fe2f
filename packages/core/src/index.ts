export * from './rng';
export * from './boxes';
export * from './nn/index';
export * from './ops/index';
export * from './backend/index';
export * from './io/index';
