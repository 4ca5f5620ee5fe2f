// Checkpoint IO for @detr/core: safetensors, PyTorch .pth, the fixtures' weight manifests, and
// RawTensor <-> tf.Tensor conversion.
export {
  type DType,
  type RawData,
  type RawTensor,
  ALL_DTYPES,
  isDType,
  dtypeItemSize,
  shapeSize,
  checkRawTensor,
} from './raw-tensor';
export {
  type SafetensorsFile,
  type TensorCollection,
  readSafetensors,
  parseSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from './safetensors';
export {
  type PthFile,
  type ReadPthOptions,
  readPth,
  parsePth,
  findStateDict,
  flattenStateDict,
  isRawTensor,
  findTorchGlobal,
} from './pth';
export { PyGlobal, PyObject, pickleAttributes, unpickle, type UnpickleOptions } from './pickle';
export { ZipArchive, type ZipEntry } from './zip-archive';
export { materializeStrided, isRowMajor } from './strided-copy';
export { float16BitsToNumber, bfloat16BitsToNumber, numberToFloat16Bits, numberToBfloat16Bits } from './half-float';
export { toFloat32Array, toInt32Array, rawToTensor, tensorToRaw } from './convert';
export { lowbias32, prngUnit, prngUniform } from './weight-prng';
export { type WeightManifestOptions, loadWeightManifest, buildWeightManifest } from './weight-manifest';
export { writeFileAtomic } from './atomic-write';
export { readJsonFile } from './json-file';
