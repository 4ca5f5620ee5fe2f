/** What the data loader needs from a dataset. */
import type { DetectionSample } from './sample';

export interface DetectionDataset {
  readonly length: number;
  /** Decoded sample; may throw `ImageDecodeError` for a bad image file. */
  get(index: number): DetectionSample;
  /** 'skip': the loader skips samples whose `get` throws ImageDecodeError and reports them through `noteSkippedImage`. */
  readonly onBadImage?: 'error' | 'skip';
  noteSkippedImage?(index: number, error: Error): void;
}
