// Test helper shared by the cpu and wasm position-embedding tests: the get_sine_pos_embed cases of the
// pos_embed fixture (output key, input key, options).
export const SINE_EMBED_CASES: [string, string, { num_pos_feats: number; temperature: number; exchange_xy: boolean }][] = [
  ['sine/4d_default', 'sine_in_4d', { num_pos_feats: 128, temperature: 10000, exchange_xy: true }],
  ['sine/2d_f64_t20_noswap', 'sine_in_2d', { num_pos_feats: 64, temperature: 20, exchange_xy: false }],
  ['sine/4d_f16_t10000', 'sine_in_4d', { num_pos_feats: 16, temperature: 10000, exchange_xy: true }],
];
