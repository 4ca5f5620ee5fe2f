import 'reflect-metadata';
export * from './container';
export * from './lazy';
export * from './paths';
export * from './resolve';
export * from './instantiate';
export * from './overrides';
export * from './format';
export * from './load';
