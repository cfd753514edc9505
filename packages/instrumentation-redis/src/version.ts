/** Name and version reported as the instrumentation scope. */
export const PACKAGE_NAME = '@vigil/instrumentation-redis';
export const PACKAGE_VERSION = '0.1.0';
