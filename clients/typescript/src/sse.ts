/** A server-sent events parser (the WHATWG event-stream format), fed text as it arrives. */

export interface ServerSentEvent {
  /** The `event:` field; "message" when there was none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  id: string | undefined;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  /** A "\r" ended the last chunk: a "\n" at the start of the next one belongs to it. */
  private pendingCr = false;

  /** Feeds text; returns the events it completed. */
  push(text: string): ServerSentEvent[] {
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const events: ServerSentEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/[\r\n]/);
      if (end === -1) break;
      // A lone "\r" at the buffer's end may be the first half of "\r\n".
      if (this.buffer[end] === '\r' && end === this.buffer.length - 1) {
        this.pendingCr = true;
        const line = this.buffer.slice(0, end);
        this.buffer = '';
        this.line(line, events);
        break;
      }
      const line = this.buffer.slice(0, end);
      const width = this.buffer.startsWith('\r\n', end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + width);
      this.line(line, events);
    }
    return events;
  }

  /** At the end of the stream: an event not followed by a blank line is dropped, as the format says. */
  end(): void {
    this.buffer = '';
    this.data = [];
    this.event = '';
  }

  private line(line: string, events: ServerSentEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        events.push({
          event: this.event === '' ? 'message' : this.event,
          data: this.data.join('\n'),
          id: this.id,
        });
      }
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      default:
        break;
    }
  }
}
