/**
 * The row-column decoupled attention this project uses, from @detr/transformers' `row_column_attention.ts`.
 * TEMPORARY relative import until `packages/transformers/src/index.ts` exports that file (its owner adds
 * `export * from './row_column_attention';`); then this becomes `export ... from '@detr/transformers'`.
 */
export { MultiheadRCDA, type MultiheadRCDAOptions, type RCDAInputs } from '../../../packages/transformers/src/row_column_attention';
