/**
 * One entry point for network files: the format is recognised from the content, so a file
 * keeps working whatever it is named.
 */
import type { Network } from '../model/network';
import { UserError } from '../util/errors';
import { decodeSafetensors, encodeSafetensors, type SafetensorsLayout } from './safetensors';
import { formatSeedText, parseSeedText } from './seed-text';

export type ModelFormat = 'seed-text' | 'safetensors';

export interface ParsedModel {
  net: Network;
  /** safetensors `__metadata__`; empty for the seed's text format, which has none. */
  metadata: Record<string, string>;
  format: ModelFormat;
}

export interface EncodeModelOptions {
  /** safetensors only. */
  layout?: SafetensorsLayout;
  /** safetensors only; the seed's text format has no room for it. */
  metadata?: Record<string, string>;
  /** seed text only; default CRLF as in the seed's files. */
  lineEnding?: '\r\n' | '\n';
}

/**
 * safetensors starts with an 8-byte header length and then `{`; the seed's text format starts
 * with the layer sizes (digits and commas), possibly after a UTF-8 byte order mark.
 */
export function detectModelFormat(bytes: Uint8Array): ModelFormat | undefined {
  if (bytes.length >= 9 && bytes[8] === 0x7b) return 'safetensors';
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const first = bytes[start];
  if (first !== undefined && first >= 0x30 && first <= 0x39) return 'seed-text';
  return undefined;
}

export function detectAndParseModel(bytes: Uint8Array, fileName: string): ParsedModel {
  const format = detectModelFormat(bytes);
  if (format === 'safetensors') return { ...decodeSafetensors(bytes, fileName), format };
  if (format === 'seed-text') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new UserError(`${fileName}: looks like the seed's text format but is not valid UTF-8 text`);
    }
    return { net: parseSeedText(text, fileName), metadata: {}, format };
  }
  throw new UserError(
    `${fileName}: not a network file: neither safetensors (8-byte header length, then "{") ` +
      `nor the seed's text format (first line the layer sizes, like 784,100,100,10)`,
  );
}

export function encodeModel(net: Network, format: ModelFormat, options: EncodeModelOptions = {}): Uint8Array {
  if (format === 'safetensors') return encodeSafetensors(net, { layout: options.layout, metadata: options.metadata });
  const lineEnding = options.lineEnding;
  return new TextEncoder().encode(formatSeedText(net, lineEnding ? { lineEnding } : {}));
}
