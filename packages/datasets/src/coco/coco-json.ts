/**
 * Reading and validating a COCO detection json (the subset detection uses: images, annotations,
 * categories). Every structural problem is an error that names the file, the array, the item's index and
 * id, and the field; geometric problems of boxes are left to the dataset (coco-dataset.ts), which clips,
 * drops or rejects them as configured.
 */
import * as fs from 'node:fs';

export interface CocoImageInfo {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoAnnotationInfo {
  /** annotation id (optional in the json; index-based label in messages when absent) */
  id?: number;
  image_id: number;
  category_id: number;
  /** [x, y, w, h] absolute pixels (COCO `XYWH_ABS`) */
  bbox: [number, number, number, number];
  iscrowd: 0 | 1;
  area?: number;
}

export interface CocoCategoryInfo {
  id: number;
  name: string;
  supercategory?: string;
}

export interface CocoDetectionJson {
  images: CocoImageInfo[];
  annotations: CocoAnnotationInfo[];
  categories: CocoCategoryInfo[];
}

/** 1-based line and column of a character offset. */
function lineColumn(text: string, position: number): { line: number; column: number } {
  let line = 1, lineStart = 0;
  for (let i = 0; i < Math.min(position, text.length); i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}

/**
 * Offset of the first syntax error in `text` (a minimal JSON scanner), or undefined if it finds none.
 * V8's messages carry the position only for some errors ("Unexpected token ',', ..." has none).
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  class At extends Error {
    constructor(readonly offset: number) {
      super('json syntax');
    }
  }
  const fail = (): never => {
    throw new At(i);
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') {
        const escape = i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) throw new At(escape);
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? '')) throw new At(escape);
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c >= '0' && c <= '9')) number();
    else fail();
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (err) {
    if (err instanceof At) return err.offset;
    throw err;
  }
}

/** JSON.parse with an error naming the file and the line / column of the problem. */
export function parseJsonText(text: string, filePath: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const position = jsonErrorOffset(text);
    const where = position === undefined ? '' : (({ line, column }) => ` at line ${line}, column ${column}`)(lineColumn(text, position));
    throw new Error(`Malformed JSON in ${what} '${filePath}'${where}: ${msg}`, { cause: err });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeItem(array: string, index: number, item: unknown): string {
  const id = isObject(item) && item.id !== undefined ? ` (id ${JSON.stringify(item.id)})` : '';
  return `${array}[${index}]${id}`;
}

/** Read and check a COCO detection json. Throws on any structural problem. */
export function readCocoDetectionJson(filePath: string): CocoDetectionJson {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder' : (err as Error).message;
    throw new Error(`Cannot read COCO annotation file '${filePath}': ${reason}`, { cause: err });
  }
  return validateCocoDetectionJson(parseJsonText(text, filePath, 'COCO annotation file'), filePath);
}

export function validateCocoDetectionJson(raw: unknown, filePath: string): CocoDetectionJson {
  const fail = (msg: string): never => {
    throw new Error(`COCO annotation file '${filePath}': ${msg}`);
  };
  if (!isObject(raw)) fail(`top level must be an object with "images", "annotations" and "categories", got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
  const top = raw as Record<string, unknown>;
  for (const field of ['images', 'annotations', 'categories']) {
    if (!(field in top)) fail(`missing field "${field}" (a detection json needs "images", "annotations" and "categories")`);
    if (!Array.isArray(top[field])) fail(`field "${field}" must be an array, got ${typeof top[field]}`);
  }

  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
  const images: CocoImageInfo[] = [];
  const imageIds = new Set<number>();
  (top.images as unknown[]).forEach((item, i) => {
    const where = describeItem('images', i, item);
    if (!isObject(item)) return fail(`${where} must be an object`);
    if (!isInt(item.id)) fail(`${where}: "id" must be an integer, got ${JSON.stringify(item.id)}`);
    if (typeof item.file_name !== 'string' || item.file_name === '') fail(`${where}: "file_name" must be a non-empty string`);
    for (const k of ['width', 'height'] as const) {
      if (!isInt(item[k]) || (item[k] as number) <= 0) fail(`${where}: "${k}" must be a positive integer, got ${JSON.stringify(item[k])}`);
    }
    if (imageIds.has(item.id as number)) fail(`${where}: duplicate image id ${item.id}`);
    imageIds.add(item.id as number);
    images.push({ id: item.id as number, file_name: item.file_name as string, width: item.width as number, height: item.height as number });
  });

  const categories: CocoCategoryInfo[] = [];
  const categoryIds = new Set<number>();
  (top.categories as unknown[]).forEach((item, i) => {
    const where = describeItem('categories', i, item);
    if (!isObject(item)) return fail(`${where} must be an object`);
    if (!isInt(item.id)) fail(`${where}: "id" must be an integer, got ${JSON.stringify(item.id)}`);
    if (typeof item.name !== 'string') fail(`${where}: "name" must be a string`);
    if (categoryIds.has(item.id as number)) fail(`${where}: duplicate category id ${item.id}`);
    categoryIds.add(item.id as number);
    const cat: CocoCategoryInfo = { id: item.id as number, name: item.name as string };
    if (typeof item.supercategory === 'string') cat.supercategory = item.supercategory;
    categories.push(cat);
  });
  if (categories.length === 0) fail('"categories" is empty');

  const annotations: CocoAnnotationInfo[] = [];
  (top.annotations as unknown[]).forEach((item, i) => {
    const where = describeItem('annotations', i, item);
    if (!isObject(item)) return fail(`${where} must be an object`);
    if (item.id !== undefined && !isInt(item.id)) fail(`${where}: "id" must be an integer, got ${JSON.stringify(item.id)}`);
    if (!isInt(item.image_id)) fail(`${where}: "image_id" must be an integer, got ${JSON.stringify(item.image_id)}`);
    if (!imageIds.has(item.image_id as number)) fail(`${where}: "image_id" ${item.image_id} is not in "images"`);
    if (!isInt(item.category_id)) fail(`${where}: "category_id" must be an integer, got ${JSON.stringify(item.category_id)}`);
    if (!categoryIds.has(item.category_id as number)) fail(`${where}: "category_id" ${item.category_id} is not in "categories"`);
    const bbox = item.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      fail(`${where}: "bbox" must be 4 finite numbers [x, y, w, h], got ${JSON.stringify(bbox)}`);
    }
    const crowd = item.iscrowd ?? 0;
    if (crowd !== 0 && crowd !== 1 && crowd !== true && crowd !== false) fail(`${where}: "iscrowd" must be 0 or 1, got ${JSON.stringify(crowd)}`);
    // detectron2 load_coco_json: assert anno.get("ignore", 0) == 0, '"ignore" in COCO json file is not supported.'
    if (item.ignore !== undefined && item.ignore !== 0 && item.ignore !== false) fail(`${where}: "ignore" is set; ignore regions are not supported (as in detectron2's load_coco_json)`);
    const ann: CocoAnnotationInfo = {
      image_id: item.image_id as number,
      category_id: item.category_id as number,
      bbox: [...(bbox as number[])] as [number, number, number, number],
      iscrowd: crowd === 1 || crowd === true ? 1 : 0,
    };
    if (item.id !== undefined) ann.id = item.id as number;
    if (typeof item.area === 'number') ann.area = item.area;
    annotations.push(ann);
  });

  return { images, annotations, categories };
}
