/**
 * OpenAI's base64 embedding encoding: the vector's float32 values, little-endian, as base64. The
 * `openai` SDK asks for it by default and decodes it itself, so a backend's answer is put in the
 * encoding the client asked for whatever the backend sent.
 */
import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';

/** A vector as base64 of little-endian float32. */
export function floatsToBase64(vector: readonly number[]): string {
  if (LITTLE_ENDIAN) {
    const floats = Float32Array.from(vector);
    return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
  }
  const buffer = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((value, index) => buffer.writeFloatLE(value, index * 4));
  return buffer.toString('base64');
}

/**
 * The vector of a base64 float32 embedding, or null when the text is not one (not base64, or not a
 * whole number of float32 values).
 */
export function base64ToFloats(text: string): number[] | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) return null;
  const vector = new Array<number>(bytes.length / 4);
  for (let index = 0; index < vector.length; index++) vector[index] = bytes.readFloatLE(index * 4);
  return vector;
}
