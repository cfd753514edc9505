// What the gateway sells (no dependencies: the tests import this).

/** Credits charged per chat completion, by model. */
export const MODEL_PRICES: Readonly<Record<string, number>> = {
  'gpt-4o': 5,
  'gpt-4o-mini': 1,
  'gpt-3.5-turbo': 1,
  'claude-3-5-sonnet': 4,
  'claude-3-haiku': 1,
  'deepseek-chat': 1,
};

/** Services and their price per task. */
export const IMAGE_SERVICES: Readonly<Record<string, number>> = { midjourney: 10, flux: 6, jimeng: 4 };
export const IMAGE_MODES = ['fast', 'relax', 'turbo'] as const;
