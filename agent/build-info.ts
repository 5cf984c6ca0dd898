/**
 * This jump-client build's identity (issue #17, protocol/update.ts): `CLIENT_VERSION` is
 * `<package.json version>+<build id>` and `CLIENT_PLATFORM` the platform it was packaged for.
 *
 * packaging/build.mjs bundles the agent with esbuild and replaces `__JUMP_CLIENT_BUILD__` with
 * `{ version, platform }` (esbuild `define`); the build id is the first 12 hex digits of the
 * package's input hash (build.json `hash`, which covers the bundle). Unpackaged (node
 * dist/agent/main.js, in-process test agents) the identifier is undefined: the version is
 * `<VERSION>+dev` and there is no platform, so such an agent is never offered an update.
 */
import type { ClientPlatform } from '../protocol/update.js';
import { VERSION } from '../protocol/version.js';

declare const __JUMP_CLIENT_BUILD__: { version: string; platform: ClientPlatform } | undefined;

const packaged = typeof __JUMP_CLIENT_BUILD__ === 'undefined' ? undefined : __JUMP_CLIENT_BUILD__;

/** `<semver>+<build id>` of this build (`<VERSION>+dev` unpackaged). */
export const CLIENT_VERSION: string = packaged?.version ?? `${VERSION}+dev`;
/** The platform this build was packaged for; undefined unpackaged. */
export const CLIENT_PLATFORM: ClientPlatform | undefined = packaged?.platform;
/** True in a packaged executable (packaging/build.mjs). */
export const IS_PACKAGED = packaged !== undefined;
