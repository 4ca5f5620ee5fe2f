/**
 * The conditional attentions this project uses, from @detr/transformers' `conditional_attention.ts`.
 * TEMPORARY relative import until `packages/transformers/src/index.ts` exports that file (its owner adds
 * `export * from './conditional_attention';`); then this becomes `export ... from '@detr/transformers'`.
 */
export {
  ConditionalCrossAttention,
  ConditionalSelfAttention,
  type ConditionalAttentionArgs,
} from '../../../packages/transformers/src/conditional_attention';
