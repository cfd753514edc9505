// new_api_channel_status: one series per channel, whatever its status history.
//
// An OpenTelemetry observable gauge cannot do this: under cumulative
// temporality the SDK keeps reporting every label set it has ever observed,
// so a channel that went enabled -> auto_disabled would show both
// status="enabled" 1 and status="auto_disabled" 3 forever. The series live
// in vigil's lean registry instead (the MetricProducer @vigil/node hands to
// its readers); a channel whose labels change is redrawn from the current map.
import { logOnce, newApiChannelStatus, type LeanRegistry, type LeanValueFamily } from '@vigil/catalog';
import { VERSION } from './version';

export const STATUS_NAMES: Readonly<Record<1 | 2 | 3 | 4, string>> = {
  1: 'enabled',
  2: 'manually_disabled',
  3: 'auto_disabled',
  4: 'deleted',
};

/** Channels tracked per registry; a New API deployment has hundreds, and each entry is kept until removed. */
const MAX_CHANNELS = 10_000;

interface Entry {
  owner: object;
  /** Label values in the entry's order: channel_id, channel_name, channel_type, status, site_id. */
  labels: string[];
  code: number;
}

/** The channels of every gateway instance sharing one registry. */
class ChannelBoard {
  private readonly entries = new Map<string, Entry>();
  private readonly family: LeanValueFamily;

  constructor(registry: LeanRegistry) {
    this.family = registry.values(newApiChannelStatus, { name: '@vigil/gateway', version: VERSION });
  }

  set(owner: object, siteId: string, channelId: string, channelName: string, channelType: string, code: 1 | 2 | 3 | 4): void {
    const key = `${siteId}\u0000${channelId}`;
    const old = this.entries.get(key);
    if (old === undefined && this.entries.size >= MAX_CHANNELS) {
      logOnce('gateway:channels-cap', 'warn', `new_api_channel_status holds ${MAX_CHANNELS} channels; the status of further channels is not recorded`);
      return;
    }
    const labels = [channelId, channelName, channelType, STATUS_NAMES[code], siteId];
    this.entries.set(key, { owner, labels, code });
    // A status sync sets every channel again and again: only a changed label set has an old series to drop
    // (a redraw costs every channel); a new or unchanged channel is one series.
    if (old === undefined || sameLabels(old.labels, labels)) this.family.get(labels).set(code);
    else this.redraw();
  }

  remove(siteId: string, channelId: string): void {
    if (this.entries.delete(`${siteId}\u0000${channelId}`)) this.redraw();
  }

  removeOwner(owner: object): void {
    let changed = false;
    for (const [k, e] of this.entries) {
      if (e.owner === owner) {
        this.entries.delete(k);
        changed = true;
      }
    }
    if (changed) this.redraw();
  }

  private redraw(): void {
    this.family.clear();
    for (const e of this.entries.values()) this.family.get(e.labels).set(e.code);
  }
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const boards = new WeakMap<LeanRegistry, ChannelBoard>();

export function channelBoard(registry: LeanRegistry): ChannelBoard {
  let b = boards.get(registry);
  if (!b) boards.set(registry, (b = new ChannelBoard(registry)));
  return b;
}

/** A status code from a code or a name; undefined when it is neither. */
export function statusCode(status: unknown): 1 | 2 | 3 | 4 | undefined {
  if (status === 1 || status === 2 || status === 3 || status === 4) return status;
  if (typeof status === 'string') {
    const n = Number(status);
    if (n === 1 || n === 2 || n === 3 || n === 4) return n;
    const v = status.trim().toLowerCase();
    for (const [code, name] of Object.entries(STATUS_NAMES)) if (name === v) return Number(code) as 1 | 2 | 3 | 4;
  }
  return undefined;
}
