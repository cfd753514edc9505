// The demo's accounts, created at start when missing (no dependencies: the tests import this).
/** Demo accounts created at start (when missing): email, password, role, API key. */
export const SEED_USERS = [
  { email: 'alice@example.com', password: 'alice-demo-password', role: 'admin', apiKey: 'sk-demo-alice-0123456789abcdef' },
  { email: 'bob@example.com', password: 'bob-demo-password', role: 'user', apiKey: 'sk-demo-bob-0123456789abcdef' },
  { email: 'carol@example.com', password: 'carol-demo-password', role: 'vip', apiKey: 'sk-demo-carol-0123456789abcdef' },
] as const;
