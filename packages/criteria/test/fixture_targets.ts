// Test helper: the per-image targets of a parity fixture (tgt_sizes / tgt_labels / tgt_boxes).
import { toFloat32Array, toInt32Array } from '@detr/core';
import { fixtureRaw } from '@detr/core/testing';
import { splitTargets, type DetectionTarget } from '@detr/matchers';

export function fixtureTargets(file: string): DetectionTarget[] {
  return splitTargets(toInt32Array(fixtureRaw(file, 'tgt_sizes')), toInt32Array(fixtureRaw(file, 'tgt_labels')), toFloat32Array(fixtureRaw(file, 'tgt_boxes')));
}
