// Lab Markdown becomes plain data (never HTML), and every lab step shipped parses into something.
import { describe, expect, it } from 'vitest';
import { isLocalLink, parseInline, parseMarkdown } from './markdown';

const STEPS = import.meta.glob<string>(['../../../labs/*/steps/*.md'], { query: '?raw', import: 'default', eager: true });

describe('blocks', () => {
  it('reads headings, paragraphs, fenced code, lists, quotes and rules', () => {
    const blocks = parseMarkdown(
      '## Two\n\nA **bold** line\ncontinued.\n\n```sh\ndocker run --name hello busybox:1.36\n\n# a comment\n```\n\n- one\n- two `x`\n  more\n\n1. first\n2. second\n\n> note\n\n---\n',
    );
    expect(blocks.map((b) => b.kind)).toEqual(['heading', 'paragraph', 'code', 'list', 'list', 'quote', 'rule']);
    expect(blocks[0]).toEqual({ kind: 'heading', level: 2, inlines: [{ kind: 'text', text: 'Two' }] });
    expect(blocks[1]).toEqual({
      kind: 'paragraph',
      inlines: [
        { kind: 'text', text: 'A ' },
        { kind: 'strong', text: 'bold' },
        { kind: 'text', text: ' line continued.' },
      ],
    });
    expect(blocks[2]).toEqual({ kind: 'code', lang: 'sh', text: 'docker run --name hello busybox:1.36\n\n# a comment' });
    expect(blocks[3]).toEqual({
      kind: 'list',
      ordered: false,
      start: 1,
      items: [[{ kind: 'text', text: 'one' }], [{ kind: 'text', text: 'two ' }, { kind: 'code', text: 'x' }, { kind: 'text', text: ' more' }]],
    });
    expect(blocks[4]).toMatchObject({ kind: 'list', ordered: true, start: 1 });
  });

  it('keeps an unclosed fence as code to the end', () => {
    expect(parseMarkdown('```\nrm -rf x')).toEqual([{ kind: 'code', lang: '', text: 'rm -rf x' }]);
  });

  it('leaves raw HTML as text', () => {
    const blocks = parseMarkdown('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>');
    expect(blocks).toEqual([
      { kind: 'paragraph', inlines: [{ kind: 'text', text: '<script>alert(1)</script>' }] },
      { kind: 'paragraph', inlines: [{ kind: 'text', text: '<img src=x onerror=alert(1)>' }] },
    ]);
  });
});

describe('inline', () => {
  it('reads code spans first: markup inside them is text', () => {
    expect(parseInline('run `docker run -e A=*b* <x>` now')).toEqual([
      { kind: 'text', text: 'run ' },
      { kind: 'code', text: 'docker run -e A=*b* <x>' },
      { kind: 'text', text: ' now' },
    ]);
  });
  it('reads links and autolinks, with their labels as text', () => {
    expect(parseInline('open [the **page**](http://localhost:8080/) or <https://docs.docker.com>')).toEqual([
      { kind: 'text', text: 'open ' },
      { kind: 'link', text: 'the page', href: 'http://localhost:8080/' },
      { kind: 'text', text: ' or ' },
      { kind: 'link', text: 'https://docs.docker.com', href: 'https://docs.docker.com' },
    ]);
  });
  it('leaves unmatched marks and escapes as text', () => {
    expect(parseInline('2 * 3 = 6, a \\*star\\* and [brackets]')).toEqual([{ kind: 'text', text: '2 * 3 = 6, a *star* and [brackets]' }]);
    expect(parseInline('*em* and **strong**')).toEqual([
      { kind: 'em', text: 'em' },
      { kind: 'text', text: ' and ' },
      { kind: 'strong', text: 'strong' },
    ]);
  });
});

describe('links', () => {
  it('opens only published ports on this computer', () => {
    expect(isLocalLink('http://localhost:8080')).toBe(true);
    expect(isLocalLink('http://127.0.0.1:18080/index.html')).toBe(true);
    expect(isLocalLink('https://docs.docker.com/')).toBe(false);
    expect(isLocalLink('http://localhost.evil.example/')).toBe(false);
    expect(isLocalLink('javascript:alert(1)')).toBe(false);
  });
});

describe('the labs shipped', () => {
  it('are all read', () => {
    expect(Object.keys(STEPS).length).toBeGreaterThan(80);
  });
  it('parse into blocks whose code blocks are closed', () => {
    for (const [path, text] of Object.entries(STEPS)) {
      const blocks = parseMarkdown(text);
      expect([path, blocks.length > 1]).toEqual([path, true]);
      const fences = text.split('\n').filter((l) => /^\s*```/.test(l)).length;
      expect([path, fences % 2]).toEqual([path, 0]);
    }
  });
});
