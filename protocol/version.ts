/** The release version of all three programs; a test keeps it equal to package.json's. */
export const VERSION = '0.1.0';
