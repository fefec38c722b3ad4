/**
 * Just enough Markdown for the documentation tests: links and ```yaml blocks outside fenced code,
 * sections by heading, and headings' anchors as GitHub makes them.
 */

/** The text with every fenced code block (``` or ~~~) blanked out, lines kept. */
function outsideCode(markdown: string): string {
  let fence: string | null = null;
  return markdown
    .split('\n')
    .map((line) => {
      const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === null && marker !== undefined) {
        fence = marker;
        return '';
      }
      if (fence !== null) {
        if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** The targets of every inline link and image, `[text](target)`, outside code spans and blocks. */
export function markdownLinks(markdown: string): string[] {
  const text = outsideCode(markdown).replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1] ?? '');
}

/** The anchors GitHub gives the page's headings: `my-heading`, then `my-heading-1` for a repeat. */
export function githubSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const counts = new Map<string, number>();
  for (const [, heading = ''] of outsideCode(markdown).matchAll(/^#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const text = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text only
      .replace(/<[^>]+>/g, '')
      .replace(/[`*]/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const seen = counts.get(base) ?? 0;
    counts.set(base, seen + 1);
    slugs.add(seen === 0 ? base : `${base}-${seen}`);
  }
  return slugs;
}

/** The ```yaml blocks of a page, or of its section under a heading (`## Title`, any level). */
export function yamlBlocks(markdown: string, heading?: string): string[] {
  let text = markdown;
  if (heading !== undefined) {
    const lines = markdown.split('\n');
    const plain = outsideCode(markdown).split('\n');
    const start = plain.findIndex((line) => /^#{1,6} /.test(line) && line.replace(/^#+ /, '') === heading);
    if (start < 0) throw new Error(`no section '${heading}'`);
    const level = /^#+/.exec(plain[start] ?? '')?.[0].length ?? 1;
    const end = plain.findIndex((line, index) => index > start && new RegExp(`^#{1,${level}} `).test(line));
    text = lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
  }
  return [...text.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((match) => match[1] ?? '');
}

/** The reference's placeholders replaced by well-formed values. */
export function fillPlaceholders(text: string): string {
  return text.replaceAll('<hex>', 'a'.repeat(64)).replaceAll('<64 hex characters>', 'b'.repeat(64));
}
