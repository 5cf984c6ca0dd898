/**
 * The `--jc-*` options (protocol/jc-flags.ts) as commander parses them → the fields a jump client
 * asks for at enrollment (the `requested` of the `enroll` message, protocol/messages.ts). One
 * mapping for every program that takes them: `jump-client install` (and the per-installer EXE),
 * `jump-client run` and `jump-client msi-configure`. Each program reports a refusal in its own
 * convention (install: VALIDATION_FAILED, exit 2; run: a configuration error, exit 1), so this
 * returns the problem rather than throwing.
 */
import type { OverridableField } from './fields.js';
import { JC_FLAGS, flagOfField, optionKey } from './jc-flags.js';
import { requestedFieldsSchema, type RequestedFields } from './messages.js';

/** The `--jc-*` options under commander's names; undefined means "not given". */
export interface JcOptions {
  jcName?: string;
  jcJumpGroup?: string;
  jcTag?: string;
  jcComments?: string;
  /** `--jc-passive`: true (a switch), or the MSI's `jc_passive` value ("1" on, "0" / "-" / "" off). */
  jcPassive?: boolean | string;
}

/** True when `--jc-passive` (or `jc_passive=1`) was given. */
export function jcPassive(o: JcOptions): boolean {
  return o.jcPassive === true || o.jcPassive === '1';
}

/** Either the validated fields, or the first refused flag and why (zod's message, no final period). */
export type JcParseResult = { ok: true; requested: RequestedFields } | { ok: false; flag: string; problem: string };

/** The fields given, unvalidated: `{ tag: 'x' }` for `--jc-tag x`; `{}` when none is given. */
export function jcValues(o: JcOptions): Partial<Record<OverridableField, string>> {
  const values: Partial<Record<OverridableField, string>> = {};
  for (const f of JC_FLAGS) {
    const v = (o as Record<string, string | undefined>)[optionKey(f.flag)];
    if (v !== undefined) values[f.field] = v;
  }
  return values;
}

/**
 * The given `--jc-*` options validated as requested fields (the rules of protocol/fields.ts, the
 * same the site applies at enrollment). On a refusal, names the flag of the first bad field.
 */
export function parseJcOptions(o: JcOptions): JcParseResult {
  const r = requestedFieldsSchema.safeParse({ ...jcValues(o), ...(jcPassive(o) ? { passive: true } : {}) });
  if (r.success) return { ok: true, requested: r.data };
  const issue = r.error.issues[0];
  return { ok: false, flag: flagOfField(issue.path[0] as OverridableField), problem: issue.message };
}
