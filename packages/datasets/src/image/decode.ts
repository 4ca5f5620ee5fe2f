/**
 * Image decoding with sharp (libvips: libjpeg-turbo/mozjpeg, libpng), to HWC RGB uint8 as
 * detectron2's `read_image(file, format="RGB")` gives it (detectron2/data/detection_utils.py):
 *   - EXIF orientation applied first (`_apply_exif_orientation`), so sizes are those of the upright image;
 *   - grayscale / palette / CMYK / 16-bit inputs converted to 8-bit sRGB (PIL `convert("RGB")`);
 *   - an alpha channel dropped, not composited (PIL `convert("RGB")` from RGBA also drops it);
 *   - decoder warnings (truncated JPEG, bad PNG CRC) are errors (sharp `failOn: 'warning'`), so a damaged
 *     file is reported rather than silently returned half grey.
 * `decodeImage` is async (sharp's own API); `decodeImageSync` (sync-decoder.ts) runs the same pipeline in
 * a worker thread for the synchronous dataset API.
 */
import { createRequire } from 'node:module';
import type { RgbImage } from '../sample';

/** A file that could not be read or decoded as an image. */
export class ImageDecodeError extends Error {
  constructor(readonly filePath: string, reason: string) {
    super(`Cannot decode image '${filePath}': ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

const require = createRequire(import.meta.url);

/** Absolute path of sharp's entry point (the worker thread loads sharp from there). */
export function sharpModulePath(): string {
  return require.resolve('sharp');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SharpModule = any;
let sharpModule: SharpModule | undefined;
function loadSharp(): SharpModule {
  if (!sharpModule) sharpModule = require('sharp');
  return sharpModule;
}

/** Check the decoder's output and wrap it as an RgbImage. */
export function toRgbImage(filePath: string, data: Uint8Array, width: number, height: number, channels: number): RgbImage {
  if (channels !== 3 || data.length !== width * height * 3) {
    throw new ImageDecodeError(filePath, `decoder returned ${channels} channels / ${data.length} bytes for ${width}x${height}; expected RGB`);
  }
  return { data, height, width, channels: 3 };
}

/** Decode a PNG / JPEG (or any format sharp reads) file to RGB uint8. */
export async function decodeImage(filePath: string): Promise<RgbImage> {
  const sharp = loadSharp();
  let out: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    out = await sharp(filePath, { failOn: 'warning' }).autoOrient().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageDecodeError(filePath, (err as Error).message);
  }
  const bytes = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  return toRgbImage(filePath, bytes, out.info.width, out.info.height, out.info.channels);
}

/** Encode an RGB uint8 image as PNG (used by the embedded dataset and tests). */
export async function writePng(filePath: string, image: RgbImage, opts: { compressionLevel?: number } = {}): Promise<void> {
  if (!(image.data instanceof Uint8Array)) throw new Error(`writePng '${filePath}': image data must be uint8`);
  const sharp = loadSharp();
  await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png({ compressionLevel: opts.compressionLevel ?? 6 })
    .toFile(filePath);
}
