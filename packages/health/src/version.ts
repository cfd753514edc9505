/** This package's version (kept equal to package.json's), reported as the meter version. */
export const VERSION = '0.1.0';
