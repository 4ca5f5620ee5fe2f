export * from './conv';
export * from './linear';
