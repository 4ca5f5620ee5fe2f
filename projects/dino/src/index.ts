export * from './postprocess';
export * from './dino';
