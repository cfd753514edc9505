import type { Block, RenderedMessage } from './template';

/** How one service measures a message, for fitting messages to its limit. */
export interface MessageShape {
  /** Largest size the service accepts, in bytes, as `measure` counts. */
  limit: number;
  /** Most parts one notification may become. */
  maxParts: number;
  /** Bytes `text` adds to the measured size when placed in the content. */
  cost(text: string): number;
  /** The measured size of a complete message with this title and content. */
  measure(title: string, content: string): number;
  /** Lines at the top of the content, before the rendered header (a heading with the title). */
  lead(title: string): string[];
  lineSep: string;
  blockSep: string;
}

/** One message ready to send. */
export interface Part {
  title: string;
  content: string;
  index: number;
  total: number;
}

const ELLIPSIS = '…';
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Bytes of `text` inside a JSON string literal (UTF-8, with JSON escapes). */
export function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text);
}

/**
 * Cuts `text` so that its cost plus an ellipsis is at most `max`, at a
 * grapheme boundary (never inside a UTF-8 sequence, surrogate pair or emoji).
 */
export function truncateLine(text: string, max: number, cost: (t: string) => number): string {
  if (cost(text) <= max) return text;
  const room = max - cost(ELLIPSIS);
  let used = 0;
  let out = '';
  for (const { segment } of segmenter.segment(text)) {
    const c = cost(segment);
    if (used + c > room) break;
    used += c;
    out += segment;
  }
  return out + ELLIPSIS;
}

interface Chunk {
  lines: string[];
  /** This chunk holds the first line of an alert block. */
  startsAlert: boolean;
}

/**
 * Fits a rendered notification into messages within the service's limit.
 * Blocks (one alert each) stay together when they fit in one message; a block
 * larger than a message is split between lines; a single line larger than a
 * message is truncated with an ellipsis. Beyond `maxParts` messages, the last
 * message ends with how many alerts were left out.
 */
export function splitMessage(msg: RenderedMessage, shape: MessageShape): Part[] {
  const { cost, lineSep, blockSep } = shape;
  const lineCost = (l: string): number => cost(l) + cost(lineSep);
  const worstSuffix = ` (${shape.maxParts}/${shape.maxParts})`;
  // Keep the title and the repeated header small enough to leave room for content.
  const title = truncateLine(msg.title, Math.min(200, Math.floor(shape.limit / 8)), cost);
  const header = msg.header.map((l) => truncateLine(l, Math.floor(shape.limit / 8), cost));
  const headOf = (t: string): string[] => [...shape.lead(t), ...header];
  const worstHead = headOf(title + worstSuffix);
  const fixed = shape.measure(title + worstSuffix, worstHead.join(lineSep)) + cost(blockSep);
  const budget = shape.limit - fixed;
  if (budget < 64) throw new Error(`message limit ${shape.limit} leaves no room for content`);

  // Greedy packing of blocks into parts.
  const parts: Chunk[][] = [[]];
  let used = 0;
  const place = (chunk: Chunk, c: number): void => {
    if (used + c > budget && parts[parts.length - 1]!.length > 0) {
      parts.push([]);
      used = 0;
    }
    parts[parts.length - 1]!.push(chunk);
    used += c;
  };
  for (const block of msg.blocks) {
    const c = blockCost(block.lines, cost(blockSep), lineCost);
    if (c <= budget) {
      place({ lines: block.lines, startsAlert: block.alert }, c);
      continue;
    }
    // One line too long for a message, the rest small: truncate that line so the block stays whole.
    const over = block.lines.filter((l) => lineCost(l) > budget / 2);
    const rest = c - over.reduce((sum, l) => sum + lineCost(l), 0);
    if (over.length === 1 && rest <= budget / 2) {
      const lines = block.lines.map((l) => (l === over[0] ? truncateLine(l, budget - rest - cost(lineSep), cost) : l));
      place({ lines, startsAlert: block.alert }, blockCost(lines, cost(blockSep), lineCost));
      continue;
    }
    // A block larger than a whole message: split it between lines.
    let lines: string[] = [];
    let lc = cost(blockSep);
    let first = true;
    const flush = (): void => {
      if (lines.length === 0) return;
      place({ lines, startsAlert: block.alert && first }, lc);
      first = false;
      lines = [];
      lc = cost(blockSep);
    };
    for (const raw of block.lines) {
      const line = truncateLine(raw, budget - cost(blockSep) - cost(lineSep), cost);
      const c1 = lineCost(line);
      if (lines.length > 0 && (used + lc + c1 > budget)) flush();
      lines.push(line);
      lc += c1;
    }
    flush();
  }
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length === 0) nonEmpty.push([]);

  let kept = nonEmpty;
  if (nonEmpty.length > shape.maxParts) {
    kept = nonEmpty.slice(0, shape.maxParts);
    const last = kept[kept.length - 1]!;
    const totalAlerts = msg.blocks.filter((b) => b.alert).length;
    const shownAlerts = (): number => kept.flat().filter((c) => c.startsAlert).length;
    const partCost = (): number => last.reduce((sum, c) => sum + blockCost(c.lines, cost(blockSep), lineCost), 0);
    let note = msg.omitted(totalAlerts - shownAlerts());
    while (last.length > 0 && partCost() + blockCost([note], cost(blockSep), lineCost) > budget) {
      last.pop();
      note = msg.omitted(totalAlerts - shownAlerts());
    }
    last.push({ lines: [truncateLine(note, budget - partCost() - cost(blockSep) - cost(lineSep), cost)], startsAlert: false });
  }

  const total = kept.length;
  return kept.map((chunks, i) => {
    const t = total > 1 ? `${title} (${i + 1}/${total})` : title;
    const content = [headOf(t).join(lineSep), ...chunks.map((c) => c.lines.join(lineSep))].filter((s) => s.length > 0).join(blockSep);
    const part: Part = { title: t, content, index: i + 1, total };
    if (shape.measure(t, content) > shape.limit) {
      // Cannot happen when `cost` is additive; refuse rather than send what the service rejects.
      throw new Error(`internal: part ${i + 1}/${total} measures ${shape.measure(t, content)} > ${shape.limit}`);
    }
    return part;
  });
}

function blockCost(lines: string[], sep: number, lineCost: (l: string) => number): number {
  return lines.reduce((sum, l) => sum + lineCost(l), sep);
}

export type { Block };
