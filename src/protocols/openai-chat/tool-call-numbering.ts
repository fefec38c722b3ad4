/**
 * Which call a streamed tool call delta belongs to. OpenAI numbers calls by `index` and sends the id
 * with a call's first delta only; not every OpenAI-compatible server does: Gemini's, SGLang and
 * mistral.rs leave `index` out (a delta with a new id is then a new call, one without an id continues
 * the last call), and some number every parallel call 0 (a new id at a known index is then a new call).
 * Used by the stream decoder (stream-events.ts) and the cache's assembler (src/cache/assemble.ts), so
 * that both see the same calls.
 */
export class ToolCallNumbering {
  /** The upstream's tool call index → the call's number. */
  private readonly byIndex = new Map<number, number>();
  /** Each call's id as the upstream gave it (null: none), by number. */
  private readonly ids: (string | null)[] = [];
  /** The call the last delta went to. */
  private last: number | undefined;

  /**
   * The number of the call this delta belongs to (0, 1, ... in the order calls start), and whether it
   * starts that call. `position` is the delta's place in its chunk's `tool_calls` array: two entries of
   * one array without index or id are two calls.
   */
  number(
    raw: { readonly index?: unknown; readonly id?: unknown },
    position = 0,
  ): { call: number; started: boolean } {
    const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : null;
    const upstreamIndex = typeof raw.index === 'number' ? raw.index : null;
    let call: number | undefined;
    if (upstreamIndex !== null) {
      call = this.byIndex.get(upstreamIndex);
      if (call !== undefined && id !== null && this.ids[call] !== null && this.ids[call] !== id)
        call = undefined;
    } else if (id !== null) {
      const known = this.ids.indexOf(id);
      call = known < 0 ? undefined : known;
    } else if (position === 0) call = this.last;
    const started = call === undefined;
    if (call === undefined) {
      call = this.ids.length;
      this.ids.push(id);
      if (upstreamIndex !== null) this.byIndex.set(upstreamIndex, call);
    }
    this.last = call;
    return { call, started };
  }
}
