/** Instrumentation scope name and version. */
export const PACKAGE_NAME = '@vigil/instrumentation-pg';
export const PACKAGE_VERSION = '0.1.0';
