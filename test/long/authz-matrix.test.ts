/**
 * The authorization matrix at full length (issue #15 item 4): every one of its cells through the
 * `jump` CLI as well as the API. The suite is test/reliability/authz-matrix.test.ts; under
 * `npm run test:long` (JUMP_TEST_LONG=1) its CLI pass runs every action of every row.
 */
import '../reliability/authz-matrix.test.js';
