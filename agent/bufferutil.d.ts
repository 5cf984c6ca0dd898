/** ws's optional native helper (no types of its own); only what `jump-client selftest` calls. */
declare module 'bufferutil' {
  export function mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
}
