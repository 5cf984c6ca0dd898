/**
 * The password rules for people's accounts, shared by the site (which enforces them, site/users.ts)
 * and the console (which shows them before asking for a new password, `jump passwd`).
 */

/** Minimum password length accepted for people's accounts, in characters. */
export const PASSWORD_MIN = 10;

/** The rules as one sentence, shown before a new password is typed. */
export const PASSWORD_RULES = `The new password must be at least ${PASSWORD_MIN} characters long.`;
