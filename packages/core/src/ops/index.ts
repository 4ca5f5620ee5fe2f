export * from './conv';
export * from './linear';
export * from './matmul';
export * from './frozen_affine';
export * from './checkpoint';
