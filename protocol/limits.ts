/**
 * Size and length limits shared by the agent, the site and the console.
 * The fields people see (protocol/fields.ts: names, tags, comments, group names, what an agent
 * reports) are counted in UTF-16 code units, JavaScript's `length` (`unitsAtMost`): an emoji
 * outside the BMP counts twice. Other protocol strings use zod's `.max()`, which counts code points
 * (a string of N there may hold up to 2N units; found by the long agent fuzz, docs/reliability.md
 * section 7): both bound the size. Sizes are in bytes.
 */

/** Jump item name, at most 128 characters (seeds: "Name ... a maximum of 128 characters"). */
export const NAME_MAX = 128;
/** Tag, at most 64 characters. */
export const TAG_MAX = 64;
/** Comments, at most 1024 characters. */
export const COMMENTS_MAX = 1024;
/** Jump group and user names, at most 64 characters. */
export const GROUP_NAME_MAX = 64;
export const USER_NAME_MAX = 64;

/** Largest agent control message the site accepts, in bytes (the WebSocket `maxPayload`). */
export const AGENT_MESSAGE_MAX_BYTES = 64 * 1024;
/** Largest JSON body the API accepts, in bytes. */
export const API_BODY_MAX_BYTES = 256 * 1024;

/** Time the site gives an agent to finish the handshake after the TLS connection opens, in ms. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Installer validity bounds (seeds: "This installer is valid for"), in ms. */
export const INSTALLER_VALID_MIN_MS = 10 * 60_000;
export const INSTALLER_VALID_MAX_MS = 365 * 24 * 3_600_000;
export const INSTALLER_VALID_DEFAULT_MS = 24 * 3_600_000;

/** Time without contact after which a jump client is purged and uninstalls itself (seeds: 180 days), in ms. */
export const STALE_CLIENT_PURGE_MS = 180 * 24 * 3_600_000;
