/**
 * Issue #15 item 6, installer inputs, at full length (`npm run test:long`; docs/reliability.md
 * section 6): the same suite as test/reliability/installer-inputs.test.ts with many more property
 * runs (testRuns' long counts), every fixed damaged-.bin case, and the site-expired installer
 * (SITE_REFUSALS). The test file is the same; JUMP_TEST_LONG=1 selects the longer runs.
 */
import '../reliability/installer-inputs.test.js';
