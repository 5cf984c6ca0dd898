/**
 * Value generators for the protocol and API fuzzers (docs/reliability.md section 1): hostile
 * strings, numbers JSON.stringify cannot write, wrong types, deep nesting, and a small schema
 * language (`Kind`) that yields, for each field, values that are valid and values that are
 * definitely invalid. The valid/invalid split is written here from the documented rules
 * (protocol/messages.ts, protocol/fields.ts, docs/api.md), not read from the product's schemas, so
 * the fuzzers' expectations are an independent oracle.
 */
import fc from 'fast-check';

/** A JSON value written as raw text: numbers JSON.stringify cannot produce (1e309, -0, 1.0, 1e-400). */
export class RawJson {
  constructor(readonly text: string) {}
  toString(): string {
    return `RawJson(${this.text})`;
  }
}

/** JSON text of `v`, with every RawJson written as its raw text. */
export function toJsonText(v: unknown): string {
  const raws: string[] = [];
  const s = JSON.stringify(v, (_k, x: unknown) => (x instanceof RawJson ? `\u0000RAW${raws.push(x.text) - 1}\u0000` : x));
  if (s === undefined) return 'null';
  return s.replace(/"\\u0000RAW(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]);
}

/** Characters no printable field accepts (protocol/fields.ts UNSAFE_CHAR, written out again here). */
export const UNSAFE_CHARS = ['\u0000', '\u0007', '\u001b', '\r', '\n', '\t', '\u007f', '\u0085', '\u009b', '\u200b', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069', '\ufeff', '\ud800', '\udbff', '\udc00', '\udfff'];
/** Unsafe characters a multi-line field (comments) refuses: all but tab and line feed. */
export const UNSAFE_MULTILINE_CHARS = UNSAFE_CHARS.filter((c) => c !== '\t' && c !== '\n');
/** Awkward but printable text: combining marks, astral characters, ZWJ, quotes, shell and path syntax. */
const SAFE_ODD = ['é', 'e\u0301', '😀', '👩\u200d💻', '中文', 'ß', 'Ω', '\u00a0', '%', '%00', '../', '"', "'", '\\', '<script>', '${x}', '`', '; rm -rf /', '$(id)', '{}', '[]', ':', 'user:', '\u05d0', '\u0627'];

const asciiPrintable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const anyUtf16 = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const astral = fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c));

/** Units of printable text only. */
const safeUnit = fc.oneof({ weight: 6, arbitrary: asciiPrintable }, { weight: 2, arbitrary: fc.constantFrom(...SAFE_ODD) });
/** Units of any text: printable, control, bidi, lone surrogates, astral. */
const anyUnit = fc.oneof(
  { weight: 5, arbitrary: asciiPrintable },
  { weight: 2, arbitrary: fc.constantFrom(...SAFE_ODD) },
  { weight: 2, arbitrary: fc.constantFrom(...UNSAFE_CHARS) },
  { weight: 2, arbitrary: anyUtf16 },
  { weight: 1, arbitrary: astral },
);

/** Any string of at most `max` UTF-16 units (lone surrogates, NUL, bidi overrides included). */
export function nastyString(max: number, min = 0): fc.Arbitrary<string> {
  const short = fc.string({ unit: anyUnit, minLength: min, maxLength: Math.min(max, 40) }).map((s) => s.slice(0, max));
  const arbs: fc.Arbitrary<string>[] = [short];
  if (max > 40) {
    // Long ones, up to the limit exactly.
    arbs.push(fc.tuple(fc.integer({ min: Math.max(min, 1), max }), anyUnit).map(([n, u]) => u.repeat(Math.ceil(n / u.length)).slice(0, n)));
  }
  return fc.oneof(...arbs).filter((s) => s.length >= min && s.length <= max);
}

/** A printable string of `min`..`max` UTF-16 units (no character of UNSAFE_CHARS, no cut surrogate pair). */
export function printableString(max: number, min = 0): fc.Arbitrary<string> {
  const short = fc.string({ unit: safeUnit, minLength: min, maxLength: Math.min(max, 40) });
  const arbs: fc.Arbitrary<string>[] = [short];
  if (max > 40) arbs.push(fc.tuple(fc.integer({ min: Math.max(min, 1), max }), asciiPrintable).map(([n, u]) => u.repeat(n)));
  // Cut at a character boundary, never inside a surrogate pair or a combining sequence mid-way.
  return fc.oneof(...arbs).map((s) => cut(s, max)).filter((s) => s.length >= min && s.length <= max);
}

function cut(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (out.length + ch.length > max) break;
    out += ch;
  }
  return out;
}

/** A printable string with one unsafe character put in it (definitely refused by a printable field). */
export function withUnsafeChar(max: number, unsafe = UNSAFE_CHARS): fc.Arbitrary<string> {
  return fc.tuple(printableString(Math.max(0, max - 1)), fc.constantFrom(...unsafe), fc.nat()).map(([s, c, at]) => {
    const i = s.length === 0 ? 0 : at % s.length;
    return s.slice(0, i) + c + s.slice(i);
  });
}

/**
 * A string longer than `max` characters (by 1 to 300), of any content. Characters are code points
 * (protocol/limits.ts): the string repeats one UTF-16 unit (a lone surrogate repeated never pairs),
 * or one astral character, so it is too long however it is counted.
 */
export function tooLong(max: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.tuple(fc.integer({ min: max + 1, max: max + 300 }), fc.oneof(asciiPrintable, anyUtf16, fc.constantFrom(...UNSAFE_CHARS))).map(([n, u]) => u.repeat(n)),
    fc.tuple(fc.integer({ min: max + 1, max: max + 300 }), astral).map(([n, u]) => u.repeat(n)),
  );
}

/** Deeply nested arrays or objects (depth 50..2000). */
export const deepNest: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 50, max: 2000 }), fc.boolean()).map(([depth, arrays]) => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  return v;
});

/** Numbers as raw JSON text that are never a valid value of a bounded or integer field: infinities, fractions. */
export const badNumberText = fc.constantFrom('1e309', '-1e309', '1.5', '-0.5', '1e400').map((t) => new RawJson(t));
/** Numbers as raw JSON text whose validity depends on the field (kept out of "definitely invalid"). */
export const oddNumberText = fc.constantFrom('-0', '1.0', '1e-400', '9007199254740993', '1e20', '0.0000001', '123456789012345678901234567890').map((t) => new RawJson(t));

const jsonTypes = {
  string: nastyString(40),
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), badNumberText, oddNumberText),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  object: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  deep: deepNest,
} as const;
type JsonType = keyof typeof jsonTypes;

/** Any JSON value whose type is not one of `excluded` (`array` and `deep` go together). */
export function notOfType(...excluded: JsonType[]): fc.Arbitrary<unknown> {
  const ex = new Set<JsonType>(excluded);
  if (ex.has('array') || ex.has('object')) ex.add('deep');
  const keys = (Object.keys(jsonTypes) as JsonType[]).filter((k) => !ex.has(k));
  return fc.oneof(...keys.map((k) => jsonTypes[k] as fc.Arbitrary<unknown>));
}

/** Any JSON value at all (for fields the product should not have, and for whole random bodies). */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(notOfType(), fc.jsonValue({ maxDepth: 4 }));

/**
 * One field's values: `valid` ones the documented rule accepts and `invalid` ones it refuses
 * (definitely: no value that a reasonable reading of the rule could accept).
 */
export interface Kind {
  valid: fc.Arbitrary<unknown>;
  invalid: fc.Arbitrary<unknown>;
}

/** Text an agent reports (cleaned, not refused): any string up to `max` units. */
export function text(max: number): Kind {
  return { valid: nastyString(max), invalid: fc.oneof(notOfType('string'), tooLong(max)) };
}

/** Printable text of `min`..`max` units (refused: control and bidi characters, lone surrogates). */
export function printable(max: number, min = 0, unsafe = UNSAFE_CHARS): Kind {
  const invalid: fc.Arbitrary<unknown>[] = [notOfType('string'), tooLong(max), withUnsafeChar(max, unsafe)];
  if (min > 0) invalid.push(fc.constant(''));
  return { valid: printableString(max, min), invalid: fc.oneof(...invalid) };
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** `n` base64url characters. */
export function b64urlString(n: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...B64URL), minLength: n, maxLength: n });
}

/** Exactly `len` base64url characters. */
export function b64(len: number): Kind {
  return {
    valid: b64urlString(len),
    invalid: fc.oneof(
      notOfType('string'),
      fc.integer({ min: 0, max: len * 2 }).filter((n) => n !== len).chain((n) => b64urlString(n)),
      fc.tuple(b64urlString(len - 1), fc.constantFrom('+', '/', '=', '.', ' ', '\u0000', 'é', '😀')).map(([s, c]) => s + c),
    ),
  };
}

/** An integer in [min, max] (max up to Number.MAX_SAFE_INTEGER). */
export function int(min: number, max = Number.MAX_SAFE_INTEGER): Kind {
  const lo = Math.max(min, -(2 ** 31));
  const hi = Math.min(max, 2 ** 31 - 1);
  const invalid: fc.Arbitrary<unknown>[] = [notOfType('number'), badNumberText, fc.double({ noNaN: true, noDefaultInfinity: true, noInteger: true })];
  if (min > -(2 ** 31)) invalid.push(fc.integer({ min: -(2 ** 31), max: min - 1 }));
  if (max < 2 ** 31 - 1) invalid.push(fc.integer({ min: max + 1 }));
  return { valid: fc.oneof(fc.integer({ min: lo, max: hi }), fc.constantFrom(min, max)), invalid: fc.oneof(...invalid) };
}

/** A finite number in [min, max]. */
export function num(min: number, max: number): Kind {
  return {
    valid: fc.oneof(fc.double({ min, max, noNaN: true }), fc.constantFrom(min, max)),
    invalid: fc.oneof(notOfType('number'), fc.constantFrom(new RawJson('1e309'), new RawJson('-1e309')), fc.double({ min: max, noNaN: true, noDefaultInfinity: true, minExcluded: true }), fc.double({ max: min, noNaN: true, noDefaultInfinity: true, maxExcluded: true })),
  };
}

/** A number ≥ min, no upper bound. */
export function numMin(min: number): Kind {
  return {
    valid: fc.oneof(fc.double({ min, max: 1e300, noNaN: true }), fc.constant(min)),
    invalid: fc.oneof(notOfType('number'), fc.constant(new RawJson('1e309')), fc.double({ max: min, noNaN: true, noDefaultInfinity: true, maxExcluded: true })),
  };
}

/** Exactly `v` (refused: any other string, any other type). */
export function literal(v: string): Kind {
  return { valid: fc.constant(v), invalid: fc.oneof(notOfType('string'), nastyString(12).filter((s) => s !== v), fc.constant(v.toUpperCase() === v ? v + 'x' : v.toUpperCase())) };
}

export const bool: Kind = { valid: fc.boolean(), invalid: notOfType('boolean') };

/** One of `values` (refused: any other string, any other type). */
export function oneOf(values: readonly string[]): Kind {
  return {
    valid: fc.constantFrom(...values),
    invalid: fc.oneof(notOfType('string'), nastyString(30).filter((s) => !values.includes(s)), fc.constantFrom(...values).map((v) => v.toUpperCase() + ' ')),
  };
}

export function nullable(k: Kind): Kind {
  return { valid: fc.oneof(fc.constant(null), k.valid), invalid: k.invalid.filter((v) => v !== null) };
}

/** An array of `k` with `min`..`max` items (`max` Infinity: no limit; valid arrays are kept short unless `long`). */
export function array(k: Kind, min: number, max: number, long = 8): Kind {
  const invalid: fc.Arbitrary<unknown>[] = [
    notOfType('array'),
    fc.tuple(fc.array(k.valid, { maxLength: 3 }), k.invalid, fc.nat()).map(([xs, bad, at]) => {
      const out = [...xs];
      out.splice(at % (xs.length + 1), 0, bad);
      return out;
    }),
  ];
  if (Number.isFinite(max)) invalid.push(k.valid.map((v) => Array.from({ length: max + 1 }, () => v)));
  if (min > 0) invalid.push(fc.constant([]));
  return { valid: fc.array(k.valid, { minLength: min, maxLength: Math.min(max, long) }), invalid: fc.oneof(...invalid) };
}

/** A fixed-length array of kinds. */
export function tuple(...ks: Kind[]): Kind {
  const valid = fc.tuple(...ks.map((k) => k.valid));
  return {
    valid,
    invalid: fc.oneof(
      notOfType('array'),
      valid.map((t) => t.slice(0, -1)),
      valid.map((t) => [...t, 0]),
      fc.tuple(valid, fc.nat({ max: ks.length - 1 })).chain(([t, i]) => ks[i].invalid.map((bad) => t.map((x, j) => (j === i ? bad : x)))),
    ),
  };
}

/** Fields of an object: each a Kind, `optional` ones may be left out. */
export interface ObjectSpec {
  fields: Record<string, Kind>;
  optional?: readonly string[];
}

/** A valid object of `spec` (optional fields present or not). */
export function validObject(spec: ObjectSpec): fc.Arbitrary<Record<string, unknown>> {
  const opt = new Set(spec.optional ?? []);
  const entries = Object.entries(spec.fields);
  return fc.record(Object.fromEntries(entries.map(([k, v]) => [k, v.valid])), { requiredKeys: entries.map(([k]) => k).filter((k) => !opt.has(k)) }) as fc.Arbitrary<Record<string, unknown>>;
}

/** An invalid object of `spec`, and what was made invalid: one field's value, a missing required field, an extra field. */
export function invalidObject(spec: ObjectSpec): fc.Arbitrary<{ value: unknown; broke: string }> {
  const opt = new Set(spec.optional ?? []);
  const names = Object.keys(spec.fields);
  const required = names.filter((n) => !opt.has(n));
  const arbs: fc.Arbitrary<{ value: unknown; broke: string }>[] = [
    fc.tuple(validObject(spec), fc.constantFrom(...names)).chain(([o, f]) => spec.fields[f].invalid.map((bad) => ({ value: { ...o, [f]: bad }, broke: f }))),
    fc.tuple(validObject(spec), fc.string({ unit: anyUnit, minLength: 1, maxLength: 12 }).filter((k) => !names.includes(k) && k !== '__proto__'), anyJson).map(([o, k, v]) => ({ value: { ...o, [k]: v }, broke: `extra:${k}` })),
    notOfType('object').map((v) => ({ value: v, broke: 'type' })),
  ];
  if (required.length > 0) {
    arbs.push(
      fc.tuple(validObject(spec), fc.constantFrom(...required)).map(([o, f]) => {
        const { [f]: _gone, ...rest } = o;
        return { value: rest, broke: `missing:${f}` };
      }),
    );
  }
  return fc.oneof(...arbs);
}

/** An object field (nested), strict: unknown keys refused. */
export function object(spec: ObjectSpec): Kind {
  return { valid: validObject(spec), invalid: invalidObject(spec).map((x) => x.value) };
}

/** A random JSON value of a top-level frame, as text: anything at all. */
export const anyJsonText: fc.Arbitrary<string> = anyJson.map(toJsonText);

/** A strict prefix of `s` (never all of it). */
export function truncated(s: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(s.filter((x) => x.length > 1), fc.nat()).map(([x, n]) => x.slice(0, 1 + (n % (x.length - 1))));
}

/** Bytes that are not UTF-8 (a text frame of these is refused by the WebSocket layer: close 1007). */
export const badUtf8: fc.Arbitrary<Buffer> = fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]), fc.string({ maxLength: 20 })).map(([a, bad, b]) =>
  Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]),
);
