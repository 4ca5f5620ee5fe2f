export * from './layout';
export * from './parameter';
export * from './module';
export * from './init';
export * from './norm_ops';
export * from './layers';
