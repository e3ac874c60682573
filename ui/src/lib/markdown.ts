// Lab steps' Markdown as a tree of plain data (headings, paragraphs, lists, quotes, fenced code,
// rules; code spans, bold, italics, links) that Markdown.svelte renders as elements. Nothing is
// ever HTML: a `<script>` in a lab is text on the page. Links are data too; the component opens
// only local ones (published ports), through the app's allowlist.

export type Inline =
  | { kind: 'text' | 'code' | 'strong' | 'em'; text: string }
  | { kind: 'link'; text: string; href: string };

export type Block =
  | { kind: 'heading'; level: number; inlines: Inline[] }
  | { kind: 'paragraph'; inlines: Inline[] }
  | { kind: 'code'; lang: string; text: string }
  | { kind: 'list'; ordered: boolean; start: number; items: Inline[][] }
  | { kind: 'quote'; inlines: Inline[] }
  | { kind: 'rule' };

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^ {0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^ {0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;

/** Parses Markdown into blocks. Unknown syntax (tables, raw HTML) stays text. */
export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  const starts = (line: string) =>
    FENCE.test(line) || HEADING.test(line) || BULLET.test(line) || NUMBERED.test(line) || QUOTE.test(line) || RULE.test(line);
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const close = fence[1];
      const body: string[] = [];
      i++;
      while (i < lines.length && !closes(lines[i], close)) {
        body.push(lines[i]);
        i++;
      }
      i++; // the closing fence (or the end)
      blocks.push({ kind: 'code', lang: fence[2] ?? '', text: body.join('\n') });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ kind: 'heading', level: heading[1].length, inlines: parseInline(heading[2]) });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ kind: 'rule' });
      i++;
      continue;
    }
    if (BULLET.test(line) || NUMBERED.test(line)) {
      const ordered = !BULLET.test(line);
      const start = ordered ? Number(NUMBERED.exec(line)?.[1] ?? 1) : 1;
      const items: string[] = [];
      while (i < lines.length) {
        const item = (ordered ? NUMBERED : BULLET).exec(lines[i]);
        if (item) {
          items.push(ordered ? item[2] : item[1]);
        } else if (lines[i].trim() && /^\s/.test(lines[i]) && items.length && !FENCE.test(lines[i])) {
          items[items.length - 1] += ' ' + lines[i].trim(); // a continuation line
        } else {
          break;
        }
        i++;
      }
      blocks.push({ kind: 'list', ordered, start, items: items.map(parseInline) });
      continue;
    }
    if (QUOTE.test(line)) {
      const text: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        text.push(QUOTE.exec(lines[i])?.[1] ?? '');
        i++;
      }
      blocks.push({ kind: 'quote', inlines: parseInline(text.join(' ').trim()) });
      continue;
    }
    const text: string[] = [];
    while (i < lines.length && lines[i].trim() && (text.length === 0 || !starts(lines[i]))) {
      text.push(lines[i].trim());
      i++;
    }
    blocks.push({ kind: 'paragraph', inlines: parseInline(text.join(' ')) });
  }
  return blocks;
}

/** True when `line` closes a fence opened with `open` (the same character, at least as many). */
function closes(line: string, open: string): boolean {
  const t = line.trim();
  return t.length >= open.length && [...t].every((c) => c === open[0]);
}

/** Parses code spans, `**bold**`, `*italics*`, `[links](url)` and `<http://autolinks>`; the rest
 * is text (merged). */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  const push = (inline: Inline) => {
    const last = out[out.length - 1];
    if (inline.kind === 'text' && last?.kind === 'text') last.text += inline.text;
    else if (inline.kind !== 'text' || inline.text) out.push(inline);
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const code = /^(`+)([\s\S]*?[^`])\1(?!`)/.exec(rest);
    if (code) {
      push({ kind: 'code', text: code[2].trim() || code[2] });
      i += code[0].length;
      continue;
    }
    const strong = /^\*\*(?=\S)([\s\S]*?\S)\*\*/.exec(rest);
    if (strong) {
      push({ kind: 'strong', text: plain(strong[1]) });
      i += strong[0].length;
      continue;
    }
    const em = /^\*(?=[^\s*])([\s\S]*?[^\s*])\*/.exec(rest);
    if (em) {
      push({ kind: 'em', text: plain(em[1]) });
      i += em[0].length;
      continue;
    }
    const link = /^\[([^\]]+)\]\(\s*([^)\s]+)\s*\)/.exec(rest);
    if (link) {
      push({ kind: 'link', text: plain(link[1]), href: link[2] });
      i += link[0].length;
      continue;
    }
    const auto = /^<(https?:\/\/[^>\s]+)>/.exec(rest);
    if (auto) {
      push({ kind: 'link', text: auto[1], href: auto[1] });
      i += auto[0].length;
      continue;
    }
    const escaped = /^\\([\\`*_[\]()<>#+\-.!])/.exec(rest);
    if (escaped) {
      push({ kind: 'text', text: escaped[1] });
      i += 2;
      continue;
    }
    // Plain text up to the next character that may start markup.
    const next = rest.slice(1).search(/[`*[<\\]/);
    const len = next < 0 ? rest.length : next + 1;
    push({ kind: 'text', text: rest.slice(0, len) });
    i += len;
  }
  return out;
}

/** The text of inline markup with its marks dropped (for bold, italics and link labels). */
function plain(text: string): string {
  return parseInline(text)
    .map((p) => p.text)
    .join('');
}

/** True for links the app may open: a published port on this computer. */
export function isLocalLink(href: string): boolean {
  return /^https?:\/\/(localhost|127\.0\.0\.1)(:\d{1,5})?(\/[^\s"]*)?$/.test(href);
}
