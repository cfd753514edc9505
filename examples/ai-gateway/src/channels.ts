// Channels as one-api / New API keep them: an upstream provider with a type, the
// models it serves, a weight, and a status. Requests for a model go to an enabled
// channel picked by weight; a failed call is retried on another channel.
//
// Automatic disabling (one-api's AutomaticDisableChannelEnabled): each channel
// keeps the outcomes of its calls over a sliding window; when it has at least
// `minRequests` outcomes and the success share is below `threshold`, the channel
// is disabled (status 3). After `cooldownMs` it is tested with a real request
// (one-api's channel test) and enabled again when the test succeeds.
// An operator can disable a channel by hand (status 2); only an operator
// enables it again.
import type { GatewayMetrics } from '@vigil/gateway';
import type { DemoConfig, FaultRates } from './config';
import { MockUpstream, type ForcedFault } from './upstreams';

export type ChannelStatusName = 'enabled' | 'manually_disabled' | 'auto_disabled';

export interface ChannelDefinition {
  id: number;
  name: string;
  /** one-api's channel type name. */
  type: string;
  models: string[];
  weight: number;
  latencyMs: number;
  chunkMs: number;
}

/**
 * The demo's channels. Most models are served by two or more, so a failed call is retried on
 * another; gpt-3.5-turbo only by Azure-Backup (a legacy deployment), so its failures reach the client.
 */
export const CHANNELS: readonly ChannelDefinition[] = [
  { id: 1, name: 'OpenAI-Main', type: 'openai', models: ['gpt-4o', 'gpt-4o-mini'], weight: 5, latencyMs: 120, chunkMs: 15 },
  { id: 2, name: 'Azure-Backup', type: 'azure', models: ['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo'], weight: 4, latencyMs: 180, chunkMs: 20 },
  { id: 3, name: 'Claude-Proxy', type: 'anthropic', models: ['claude-3-5-sonnet', 'claude-3-haiku'], weight: 5, latencyMs: 250, chunkMs: 25 },
  { id: 4, name: 'OpenRouter-Mix', type: 'openrouter', models: ['claude-3-5-sonnet', 'claude-3-haiku', 'gpt-4o-mini', 'deepseek-chat'], weight: 3, latencyMs: 200, chunkMs: 20 },
  { id: 5, name: 'DeepSeek-Direct', type: 'deepseek', models: ['deepseek-chat'], weight: 5, latencyMs: 150, chunkMs: 15 },
];

/** Default fault rates of every mock upstream: a mostly healthy provider. */
export const DEFAULT_RATES: FaultRates = { rateLimit: 0.015, serverError: 0.01, timeout: 0.004, streamCut: 0.005 };

export class Channel {
  status: ChannelStatusName = 'enabled';
  /** When the channel was auto-disabled or last failed its test. */
  disabledAt = 0;
  private outcomes: Array<{ at: number; ok: boolean }> = [];
  testing = false;

  constructor(
    readonly def: ChannelDefinition,
    readonly upstream: MockUpstream,
  ) {}

  get id(): number {
    return this.def.id;
  }
  get meta() {
    return { channelId: this.def.id, channelName: this.def.name, channelType: this.def.type };
  }

  record(ok: boolean, now: number, windowMs: number): void {
    this.outcomes.push({ at: now, ok });
    this.prune(now, windowMs);
  }

  prune(now: number, windowMs: number): void {
    let i = 0;
    while (i < this.outcomes.length && this.outcomes[i]!.at < now - windowMs) i++;
    if (i > 0) this.outcomes.splice(0, i);
  }

  window(): { total: number; ok: number } {
    let ok = 0;
    for (const o of this.outcomes) if (o.ok) ok++;
    return { total: this.outcomes.length, ok };
  }

  resetWindow(): void {
    this.outcomes = [];
  }
}

export class ChannelRegistry {
  readonly channels: Channel[];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: DemoConfig,
    private readonly gateway: GatewayMetrics,
    /** Sends one test request through a channel (one-api's channel test); resolves true when it worked. */
    private readonly test: (channel: Channel) => Promise<boolean>,
  ) {
    this.channels = CHANNELS.map((def) => {
      const rates = { ...DEFAULT_RATES, ...config.faults[String(def.id)] };
      const upstream = new MockUpstream(def.name, { models: def.models, latencyMs: def.latencyMs, chunkMs: def.chunkMs, rates });
      if (config.failChannels.includes(String(def.id))) upstream.forced = 'error';
      return new Channel(def, upstream);
    });
  }

  async start(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.upstream.start()));
    for (const c of this.channels) this.gateway.setChannelStatus(c.meta, c.status);
    this.timer = setInterval(() => void this.reviveDisabled(), 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.channels.map((c) => c.upstream.stop()));
  }

  get(id: number | string): Channel | undefined {
    return this.channels.find((c) => String(c.id) === String(id));
  }

  /** Every model some channel serves. */
  models(): string[] {
    return [...new Set(this.channels.flatMap((c) => c.def.models))];
  }

  /** An enabled channel for the model, by weight, not one of `exclude`. */
  pick(model: string, exclude: ReadonlySet<number>): Channel | undefined {
    const candidates = this.channels.filter((c) => c.status === 'enabled' && c.def.models.includes(model) && !exclude.has(c.id));
    const total = candidates.reduce((s, c) => s + c.def.weight, 0);
    let r = Math.random() * total;
    for (const c of candidates) {
      if ((r -= c.def.weight) < 0) return c;
    }
    return candidates[candidates.length - 1];
  }

  /** Records the outcome of an upstream call and disables the channel when its success rate fell. */
  record(channel: Channel, ok: boolean): void {
    const now = Date.now();
    const { windowMs, minRequests, threshold } = this.config.autoDisable;
    channel.record(ok, now, windowMs);
    if (channel.status !== 'enabled' || ok) return;
    const { total, ok: good } = channel.window();
    if (total >= minRequests && good / total < threshold) {
      console.log(`ai-gateway: channel ${channel.def.name} auto-disabled: ${good}/${total} calls succeeded in the last ${windowMs / 1000} s (threshold ${threshold * 100}%)`);
      this.setStatus(channel, 'auto_disabled');
    }
  }

  setStatus(channel: Channel, status: ChannelStatusName): void {
    channel.status = status;
    if (status === 'auto_disabled') channel.disabledAt = Date.now();
    if (status === 'enabled') channel.resetWindow();
    this.gateway.setChannelStatus(channel.meta, status);
  }

  /** Forces an upstream fault (admin), and optionally replaces its fault rates. */
  setFault(channel: Channel, forced: ForcedFault, rates?: Partial<FaultRates>): void {
    channel.upstream.forced = forced;
    if (rates) Object.assign(channel.upstream.profile.rates, rates);
  }

  /** Tests auto-disabled channels whose cool-down is over; enables those that answer. */
  private async reviveDisabled(): Promise<void> {
    const now = Date.now();
    for (const c of this.channels) {
      if (c.status !== 'auto_disabled' || c.testing || now - c.disabledAt < this.config.autoDisable.cooldownMs) continue;
      c.testing = true;
      try {
        const ok = await this.test(c);
        if (c.status !== 'auto_disabled') continue; // an operator changed it meanwhile
        if (ok) {
          console.log(`ai-gateway: channel ${c.def.name} passed its test and is enabled again`);
          this.setStatus(c, 'enabled');
        } else {
          c.disabledAt = Date.now();
        }
      } finally {
        c.testing = false;
      }
    }
  }
}
