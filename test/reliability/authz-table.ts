/**
 * The authorization matrix of issue #15 item 4: one table, written from the rules (the seeds and
 * docs/security.md "Who is trusted with what"), not from what the code does. The matrix suite
 * (authz-matrix.test.ts) asserts every cell against the API and the `jump` CLI; the doc check
 * (authz-doc.test.ts) asserts that the table printed in the docs is `authzMarkdown()` of this one.
 *
 * The rules the table is written from:
 * - An admin sees and uses every jump group (docs/security.md: admins hold users, groups,
 *   installers, deleting).
 * - A technician sees and uses their own personal group and the shared groups they are a member
 *   of; anything else is hidden: answered like something that does not exist (no oracle,
 *   security issue #12 item 18).
 * - `view-personal-groups` (seeds: permission to view Jump Items pinned to other users' personal
 *   Jump Groups) lets a technician SEE others' personal groups: list, search, show, and the
 *   sessions into those clients; it does not let them USE them (edit, delete, Jump, tunnel, proxy,
 *   installers into them): those are refused with PERMISSION_DENIED. Where the seeds are silent
 *   (sessions, installers) the rule chosen is in docs/decisions.md (issue #15).
 */

/** Who acts: an admin, a technician, a technician with `view-personal-groups`. */
export const ROLES = ['admin', 'technician', 'technician + view-personal-groups'] as const;
export type Role = (typeof ROLES)[number];

/** Where the jump client is, relative to the actor. */
export const GROUPS = ['own personal', "another's personal", 'shared, member', 'shared, not a member'] as const;
export type GroupKind = (typeof GROUPS)[number];

/** What the actor tries on a jump client of that group (or, for `installer`, on the group itself). */
export const ACTIONS = ['list', 'search', 'show', 'edit', 'delete', 'jump', 'tunnel', 'proxy', 'installer', 'sessions'] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * A cell: `Y` allowed; `D` denied with PERMISSION_DENIED (the actor may see the client, not use
 * it); `H` hidden: absent from list and search, and JUMP_CLIENT_NOT_FOUND / JUMP_GROUP_NOT_FOUND /
 * JUMP_SESSION_NOT_FOUND, exactly as for something that does not exist.
 */
export type Outcome = 'Y' | 'D' | 'H';

type Row = [Role, GroupKind, ...Outcome[]];

/* prettier-ignore */
const ROWS: Row[] = [
  //                                                                list search show edit delete jump tunnel proxy installer sessions
  ['admin',                             'own personal',              'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['admin',                             "another's personal",        'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['admin',                             'shared, member',            'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['admin',                             'shared, not a member',      'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['technician',                        'own personal',              'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['technician',                        "another's personal",        'H', 'H',  'H', 'H', 'H',  'H', 'H',  'H', 'H',      'H'],
  ['technician',                        'shared, member',            'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['technician',                        'shared, not a member',      'H', 'H',  'H', 'H', 'H',  'H', 'H',  'H', 'H',      'H'],
  ['technician + view-personal-groups', 'own personal',              'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['technician + view-personal-groups', "another's personal",        'Y', 'Y',  'Y', 'D', 'D',  'D', 'D',  'D', 'D',      'Y'],
  ['technician + view-personal-groups', 'shared, member',            'Y', 'Y',  'Y', 'Y', 'Y',  'Y', 'Y',  'Y', 'Y',      'Y'],
  ['technician + view-personal-groups', 'shared, not a member',      'H', 'H',  'H', 'H', 'H',  'H', 'H',  'H', 'H',      'H'],
];

/** One cell of the matrix. */
export interface Cell {
  role: Role;
  group: GroupKind;
  action: Action;
  expected: Outcome;
}

/** Every cell, row by row (role, group), action by action. Throws when the table is not complete. */
export function authzCells(): Cell[] {
  const cells: Cell[] = [];
  for (const role of ROLES) {
    for (const group of GROUPS) {
      const rows = ROWS.filter((r) => r[0] === role && r[1] === group);
      if (rows.length !== 1) throw new Error(`authz table: ${rows.length} rows for ${role} / ${group}`);
      const outcomes = rows[0].slice(2) as Outcome[];
      if (outcomes.length !== ACTIONS.length) throw new Error(`authz table: ${role} / ${group} has ${outcomes.length} cells, not ${ACTIONS.length}`);
      ACTIONS.forEach((action, i) => cells.push({ role, group, action, expected: outcomes[i] }));
    }
  }
  if (ROWS.length !== ROLES.length * GROUPS.length) throw new Error('authz table: extra rows');
  return cells;
}

const SHOW: Record<Outcome, string> = { Y: 'yes', D: 'no: 403', H: 'no: hidden' };

/** Markers around the generated table in the docs. */
export const TABLE_START = '<!-- authz-matrix: generated from test/reliability/authz-table.ts; do not edit by hand -->';
export const TABLE_END = '<!-- authz-matrix: end -->';

/**
 * The table as markdown, between TABLE_START and TABLE_END, with its legend: what docs/security.md
 * prints (docs/security.md, "The authorization matrix").
 */
export function authzMarkdown(): string {
  const cells = authzCells();
  const lines = [
    TABLE_START,
    `| role | jump group | ${ACTIONS.join(' | ')} |`,
    `| --- | --- | ${ACTIONS.map(() => '---').join(' | ')} |`,
  ];
  for (const role of ROLES) {
    for (const group of GROUPS) {
      const row = ACTIONS.map((a) => SHOW[cells.find((c) => c.role === role && c.group === group && c.action === a)!.expected]);
      lines.push(`| ${role} | ${group} | ${row.join(' | ')} |`);
    }
  }
  lines.push(
    '',
    '`yes`: allowed. `no: 403`: PERMISSION_DENIED (the technician may see the jump client, not use it). ' +
      '`no: hidden`: absent from `list` and `search`, and JUMP_CLIENT_NOT_FOUND (JUMP_GROUP_NOT_FOUND for `installer`, ' +
      'JUMP_SESSION_NOT_FOUND for `sessions`), the answer for something that does not exist. ' +
      '`installer` is creating an installer into that jump group; `sessions` is listing and showing the sessions ' +
      "another user opened into the group's jump clients; `jump`, `tunnel` and `proxy` start a session of that kind.",
    TABLE_END,
  );
  return lines.join('\n');
}
