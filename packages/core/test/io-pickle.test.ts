// The unpickler on plain Python data pickled by CPython at every protocol 0..5 (text opcodes,
// binary opcodes, FRAME / MEMOIZE / STACK_GLOBAL), the memo, and an unknown dict subclass in
// 'opaque' mode. The generator is at the end of this file.
import { describe, expect, it } from 'vitest';
import { PyObject, findTorchGlobal, unpickle } from '../src/io/index';

const PICKLES: Record<string, string> = {
  p0: 'KGRwMApWaW50CnAxCkktNQpzVmJpZwpwMgpMMTE4MDU5MTYyMDcxNzQxMTMwMzQyNEwKc1ZuZWdfYmlnCnAzCkwtMzY4OTM0ODgxNDc0MTkxMDMyMzJMCnNWZmxvYXQKcDQKRjIuNQpzVnRpbnkKcDUKRi0xLjI1ZS0zMDAKc1ZzdHIKcDYKVmjpbGxvXHUwMDBhInEnCnA3CnNWbGlzdApwOAoobHA5CkkxCmFOYUkwMQphSTAwCmFzVnR1cGxlCnAxMAooSTEKKEkyCkkzCnRwMTEKdHAxMgpzVmVtcHR5CnAxMwooKHQobHAxNAooZHAxNQp0cDE2CnNWc2V0CnAxNwpjX19idWlsdGluX18Kc2V0CnAxOAooKGxwMTkKSTcKYXRwMjAKUnAyMQpzVmZzZXQKcDIyCmNfX2J1aWx0aW5fXwpmcm96ZW5zZXQKcDIzCigobHAyNApJOAphdHAyNQpScDI2CnNWYnl0ZXMKcDI3CmNfY29kZWNzCmVuY29kZQpwMjgKKFZcdTAwMDAB/gpwMjkKVmxhdGluMQpwMzAKdHAzMQpScDMyCnNWbmVzdGVkCnAzMwooZHAzNApJMwpWaW50IGtleQpwMzUKc3NWb2QKcDM2CmNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApwMzcKKHRScDM4ClZrCnAzOQpJMQpzc1ZzaGFyZWQKcDQwCigobHA0MQpJMQphSTIKYWc0MQp0cDQyCnMu',
  p1: 'fXEAKFgDAAAAaW50cQFK+////1gDAAAAYmlncQJMMTE4MDU5MTYyMDcxNzQxMTMwMzQyNEwKWAcAAABuZWdfYmlncQNMLTM2ODkzNDg4MTQ3NDE5MTAzMjMyTApYBQAAAGZsb2F0cQRHQAQAAAAAAABYBAAAAHRpbnlxBUeBqsmns7cwL1gDAAAAc3RycQZYCgAAAGjDqWxsbwoicSdxB1gEAAAAbGlzdHEIXXEJKEsBTkkwMQpJMDAKZVgFAAAAdHVwbGVxCihLAShLAksDdHELdHEMWAUAAABlbXB0eXENKCldcQ59cQ90cRBYAwAAAHNldHERY19fYnVpbHRpbl9fCnNldApxEihdcRNLB2F0cRRScRVYBAAAAGZzZXRxFmNfX2J1aWx0aW5fXwpmcm96ZW5zZXQKcRcoXXEYSwhhdHEZUnEaWAUAAABieXRlc3EbY19jb2RlY3MKZW5jb2RlCnEcKFgEAAAAAAHDvnEdWAYAAABsYXRpbjFxHnRxH1JxIFgGAAAAbmVzdGVkcSF9cSJLA1gHAAAAaW50IGtleXEjc1gCAAAAb2RxJGNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxJSlScSZYAQAAAGtxJ0sBc1gGAAAAc2hhcmVkcSgoXXEpKEsBSwJlaCl0cSp1Lg==',
  p2: 'gAJ9cQAoWAMAAABpbnRxAUr7////WAMAAABiaWdxAooJAAAAAAAAAABAWAcAAABuZWdfYmlncQOKCQAAAAAAAAAA/lgFAAAAZmxvYXRxBEdABAAAAAAAAFgEAAAAdGlueXEFR4GqyaeztzAvWAMAAABzdHJxBlgKAAAAaMOpbGxvCiJxJ3EHWAQAAABsaXN0cQhdcQkoSwFOiIllWAUAAAB0dXBsZXEKSwFLAksDhnELhnEMWAUAAABlbXB0eXENKV1xDn1xD4dxEFgDAAAAc2V0cRFjX19idWlsdGluX18Kc2V0CnESXXETSwdhhXEUUnEVWAQAAABmc2V0cRZjX19idWlsdGluX18KZnJvemVuc2V0CnEXXXEYSwhhhXEZUnEaWAUAAABieXRlc3EbY19jb2RlY3MKZW5jb2RlCnEcWAQAAAAAAcO+cR1YBgAAAGxhdGluMXEehnEfUnEgWAYAAABuZXN0ZWRxIX1xIksDWAcAAABpbnQga2V5cSNzWAIAAABvZHEkY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnElKVJxJlgBAAAAa3EnSwFzWAYAAABzaGFyZWRxKF1xKShLAUsCZWgphnEqdS4=',
  p3: 'gAN9cQAoWAMAAABpbnRxAUr7////WAMAAABiaWdxAooJAAAAAAAAAABAWAcAAABuZWdfYmlncQOKCQAAAAAAAAAA/lgFAAAAZmxvYXRxBEdABAAAAAAAAFgEAAAAdGlueXEFR4GqyaeztzAvWAMAAABzdHJxBlgKAAAAaMOpbGxvCiJxJ3EHWAQAAABsaXN0cQhdcQkoSwFOiIllWAUAAAB0dXBsZXEKSwFLAksDhnELhnEMWAUAAABlbXB0eXENKV1xDn1xD4dxEFgDAAAAc2V0cRFjYnVpbHRpbnMKc2V0CnESXXETSwdhhXEUUnEVWAQAAABmc2V0cRZjYnVpbHRpbnMKZnJvemVuc2V0CnEXXXEYSwhhhXEZUnEaWAUAAABieXRlc3EbQwMAAf5xHFgGAAAAbmVzdGVkcR19cR5LA1gHAAAAaW50IGtleXEfc1gCAAAAb2RxIGNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxISlScSJYAQAAAGtxI0sBc1gGAAAAc2hhcmVkcSRdcSUoSwFLAmVoJYZxJnUu',
  p4: 'gASVGwEAAAAAAAB9lCiMA2ludJRK+////4wDYmlnlIoJAAAAAAAAAABAjAduZWdfYmlnlIoJAAAAAAAAAAD+jAVmbG9hdJRHQAQAAAAAAACMBHRpbnmUR4GqyaeztzAvjANzdHKUjApow6lsbG8KInEnlIwEbGlzdJRdlChLAU6IiWWMBXR1cGxllEsBSwJLA4aUhpSMBWVtcHR5lCldlH2Uh5SMA3NldJSPlChLB5CMBGZzZXSUKEsIkZSMBWJ5dGVzlEMDAAH+lIwGbmVzdGVklH2USwOMB2ludCBrZXmUc4wCb2SUjAtjb2xsZWN0aW9uc5SMC09yZGVyZWREaWN0lJOUKVKUjAFrlEsBc4wGc2hhcmVklF2UKEsBSwJlaCGGlHUu',
  p5: 'gAWVGwEAAAAAAAB9lCiMA2ludJRK+////4wDYmlnlIoJAAAAAAAAAABAjAduZWdfYmlnlIoJAAAAAAAAAAD+jAVmbG9hdJRHQAQAAAAAAACMBHRpbnmUR4GqyaeztzAvjANzdHKUjApow6lsbG8KInEnlIwEbGlzdJRdlChLAU6IiWWMBXR1cGxllEsBSwJLA4aUhpSMBWVtcHR5lCldlH2Uh5SMA3NldJSPlChLB5CMBGZzZXSUKEsIkZSMBWJ5dGVzlEMDAAH+lIwGbmVzdGVklH2USwOMB2ludCBrZXmUc4wCb2SUjAtjb2xsZWN0aW9uc5SMC09yZGVyZWREaWN0lJOUKVKUjAFrlEsBc4wGc2hhcmVklF2UKEsBSwJlaCGGlHUu',
  dict_subclass: 'gAJ9cQBYAwAAAGNmZ3EBY2FkZGljdApEaWN0CnECKYFxA1gCAAAAbHJxBEc/uZmZmZmZmnNzLg==',
};

function load(name: string, unknownGlobals: 'error' | 'opaque' = 'error'): unknown {
  return unpickle(Buffer.from(PICKLES[name], 'base64'), { source: name, findGlobal: findTorchGlobal, unknownGlobals });
}

describe('unpickle', () => {
  for (const protocol of [0, 1, 2, 3, 4, 5]) {
    it(`protocol ${protocol}: plain data maps to the documented JavaScript values`, () => {
      const obj = load(`p${protocol}`) as Map<string, unknown>;
      expect(obj).toBeInstanceOf(Map);
      expect(obj.get('int')).toBe(-5);
      expect(obj.get('big')).toBe(2n ** 70n);
      expect(obj.get('neg_big')).toBe(-(2n ** 65n));
      expect(obj.get('float')).toBe(2.5);
      expect(obj.get('tiny')).toBe(-1.25e-300);
      expect(obj.get('str')).toBe('héllo\n"q\'');
      expect(obj.get('list')).toEqual([1, null, true, false]);
      expect(obj.get('tuple')).toEqual([1, [2, 3]]);
      expect(Object.isFrozen(obj.get('tuple'))).toBe(true);
      expect(obj.get('empty')).toEqual([[], [], new Map()]);
      expect(obj.get('set')).toEqual(new Set([7]));
      expect(obj.get('fset')).toEqual(new Set([8]));
      expect(Array.from(obj.get('bytes') as Uint8Array)).toEqual([0, 1, 0xfe]);
      expect(obj.get('nested')).toEqual(new Map([[3, 'int key']]));
      expect(obj.get('od')).toEqual(new Map([['k', 1]]));
      const [a, b] = obj.get('shared') as unknown[][];
      expect(a).toEqual([1, 2]);
      expect(a).toBe(b); // the memo returns the same object
    });
  }

  it('an unknown dict subclass is an error by default and an inert object holding its items in opaque mode', () => {
    expect(() => load('dict_subclass')).toThrow(/^pickle 'dict_subclass' at byte \d+: unsupported global 'addict\.Dict'/);
    const cfg = (load('dict_subclass', 'opaque') as Map<string, PyObject>).get('cfg')!;
    expect(cfg).toBeInstanceOf(PyObject);
    expect(cfg.className).toBe('addict.Dict');
    expect(cfg.dictItems).toEqual(new Map([['lr', 0.1]]));
  });

  it('unknown opcodes and unbalanced stacks are clear errors', () => {
    const opts = { source: 'bad', findGlobal: findTorchGlobal };
    expect(() => unpickle(Uint8Array.from([0x80, 0x02, 0xff]), opts)).toThrow(/^pickle 'bad' at byte 2: unsupported pickle opcode 0xff/);
    expect(() => unpickle(Uint8Array.from([0x80, 0x06, 0x4e, 0x2e]), opts)).toThrow(/unsupported pickle protocol 6/);
    expect(() => unpickle(Uint8Array.from([0x4e, 0x4e, 0x2e]), opts)).toThrow(/STOP with an unbalanced stack/);
    expect(() => unpickle(Uint8Array.from([0x68, 0x05, 0x2e]), opts)).toThrow(/memo index 5 was never stored/);
    expect(() => unpickle(Uint8Array.from([0x73]), opts)).toThrow(/at byte 0: stack underflow/);
  });
});

/* Generator (python3):

# Plain Python data pickled at every protocol 0..5 by CPython (text opcodes at 0, binary at 1+,
# FRAME/MEMOIZE/STACK_GLOBAL at 4+), plus an unknown dict subclass for the 'opaque' mode.
import pickle, base64, json, sys, types, collections
obj = {'int': -5, 'big': 2 ** 70, 'neg_big': -(2 ** 65), 'float': 2.5, 'tiny': -1.25e-300, 'str': 'héllo\n"q\'',
       'list': [1, None, True, False], 'tuple': (1, (2, 3)), 'empty': ((), [], {}), 'set': {7}, 'fset': frozenset([8]),
       'bytes': b'\x00\x01\xfe', 'nested': {3: 'int key'}, 'od': collections.OrderedDict([('k', 1)])}
shared = [1, 2]
obj['shared'] = (shared, shared)          # memo: the same list twice
out = {f'p{p}': base64.b64encode(pickle.dumps(obj, protocol=p)).decode() for p in range(6)}
addict = types.ModuleType('addict'); sys.modules['addict'] = addict
class Dict(dict): pass
Dict.__module__ = 'addict'; addict.Dict = Dict
d = Dict(); d['lr'] = 0.1
out['dict_subclass'] = base64.b64encode(pickle.dumps({'cfg': d}, protocol=2)).decode()
print(json.dumps(out))

*/
