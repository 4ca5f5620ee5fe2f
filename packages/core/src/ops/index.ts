export * from './conv';
export * from './linear';
export * from './matmul';
