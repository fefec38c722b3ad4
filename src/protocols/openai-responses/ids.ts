/**
 * Response and output item ids. An item's id names its response and its place in the output
 * (`fc_<response>_<index>`), so that an `item_reference` input item is found with one read of the
 * stored response, with no index of items to keep.
 */
import { randomBytes } from 'node:crypto';

export type ItemKind = 'msg' | 'fc' | 'rs';

const RESPONSE_ID = /^resp_([0-9a-f]{48})$/;
const ITEM_ID = /^(msg|fc|rs)_([0-9a-f]{48})_(\d{1,6})$/;

export function newResponseId(): string {
  return `resp_${randomBytes(24).toString('hex')}`;
}

/** Whether a string is a response id this gateway could have made (others are not looked up). */
export function isResponseId(id: string): boolean {
  return RESPONSE_ID.test(id);
}

export function itemId(responseId: string, kind: ItemKind, outputIndex: number): string {
  return `${kind}_${responseId.slice('resp_'.length)}_${outputIndex}`;
}

/** The response and output index an item id names, or null for an id this gateway did not make. */
export function parseItemId(id: string): { responseId: string; outputIndex: number } | null {
  const match = ITEM_ID.exec(id);
  if (match === null) return null;
  return { responseId: `resp_${match[2] ?? ''}`, outputIndex: Number(match[3]) };
}
