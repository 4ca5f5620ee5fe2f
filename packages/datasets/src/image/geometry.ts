/** Pixel-exact geometric image operations on HWC RGB images: horizontal flip and crop. */
import type { RgbImage } from '../sample';

/** Mirror left-right (detectron2 `HFlipTransform.apply_image`: `np.flip(img, axis=1)`). */
export function flipImageHorizontal(image: RgbImage): RgbImage {
  const { data, height: h, width: w } = image;
  const out = data instanceof Uint8Array ? new Uint8Array(data.length) : new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const src = row + x * 3;
      const dst = row + (w - 1 - x) * 3;
      out[dst] = data[src];
      out[dst + 1] = data[src + 1];
      out[dst + 2] = data[src + 2];
    }
  }
  return { data: out, height: h, width: w, channels: 3 };
}

/** The region [y0, y0+ch) x [x0, x0+cw) (fvcore `CropTransform.apply_image`). */
export function cropImage(image: RgbImage, x0: number, y0: number, cw: number, ch: number): RgbImage {
  const { data, height: h, width: w } = image;
  if (!(x0 >= 0 && y0 >= 0 && cw > 0 && ch > 0 && x0 + cw <= w && y0 + ch <= h && [x0, y0, cw, ch].every(Number.isInteger))) {
    throw new Error(`cropImage: crop x0=${x0} y0=${y0} w=${cw} h=${ch} does not fit a ${h}x${w} image`);
  }
  const out = data instanceof Uint8Array ? new Uint8Array(ch * cw * 3) : new Float32Array(ch * cw * 3);
  for (let y = 0; y < ch; y++) {
    const src = ((y0 + y) * w + x0) * 3;
    out.set(data.subarray(src, src + cw * 3), y * cw * 3);
  }
  return { data: out, height: ch, width: cw, channels: 3 };
}

/** Mirror top-bottom (detectron2 `VFlipTransform.apply_image`). */
export function flipImageVertical(image: RgbImage): RgbImage {
  const { data, height: h, width: w } = image;
  const out = data instanceof Uint8Array ? new Uint8Array(data.length) : new Float32Array(data.length);
  const rowLen = w * 3;
  for (let y = 0; y < h; y++) out.set(data.subarray(y * rowLen, (y + 1) * rowLen), (h - 1 - y) * rowLen);
  return { data: out, height: h, width: w, channels: 3 };
}
