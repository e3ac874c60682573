import { describe, expect, it } from 'vitest';
import type { ContainerSummary } from '../bindings/ContainerSummary';
import type { ComposeLogLine } from '../bindings/ComposeLogLine';
import { appendCapped, cleanPath, commandLabel, logPrefix, nothingToDelete, serviceColor, serviceRows, shownLogs, SERVICE_COLORS, toggled, toggledProfile } from './compose';

function container(name: string, project: string | null, service: string | null, state: ContainerSummary['state'] = 'running'): ContainerSummary {
  return {
    id: name, name, image: 'i', image_id: '', command: '', created: 0, state, status: '', ports: [], labels: {},
    compose_project: project, compose_service: service, networks: [], mounts: [], size_rw: null,
  } as ContainerSummary;
}

describe('serviceRows', () => {
  it('lists declared services with their containers, and services only the engine knows', () => {
    const list = [
      container('shop-web-2', 'shop', 'web', 'exited'),
      container('shop-web-1', 'shop', 'web'),
      container('shop-old-1', 'shop', 'old'),
      container('other-web-1', 'other', 'web'),
      container('loner', null, null),
    ];
    const rows = serviceRows('shop', ['web', 'db'], list);
    expect(rows.map((r) => r.service)).toEqual(['db', 'old', 'web']);
    const [db, old, web] = rows;
    expect(db).toMatchObject({ declaredOnly: true, orphan: false, running: 0 });
    expect(old).toMatchObject({ declaredOnly: false, orphan: true, running: 1 });
    expect(web.containers.map((c) => c.name)).toEqual(['shop-web-1', 'shop-web-2']);
    expect(web.running).toBe(1);
  });

  it('gives each service its profiles, and says which the chosen profiles leave out', () => {
    const list = [container('shop-debug-1', 'shop', 'debug', 'exited')];
    const profiles = { debug: ['debug'], admin: ['debug', 'ops'] };
    const none = serviceRows('shop', ['admin', 'debug', 'web'], list, profiles, []);
    expect(none.map((r) => [r.service, r.inactive, r.orphan])).toEqual([['admin', true, false], ['debug', true, false], ['web', false, false]]);
    expect(none[0].profiles).toEqual(['debug', 'ops']);
    const ops = serviceRows('shop', ['admin', 'debug', 'web'], list, profiles, ['ops']);
    expect(ops.map((r) => r.inactive)).toEqual([false, true, false]);
    expect(serviceRows('shop', ['web'], list).map((r) => [r.service, r.orphan, r.inactive])).toEqual([['debug', true, false], ['web', false, false]]);
  });
});

describe('toggledProfile', () => {
  it('adds or removes a profile and keeps them sorted', () => {
    const chosen = ['ops'];
    expect(toggledProfile(chosen, 'debug')).toEqual(['debug', 'ops']);
    expect(toggledProfile(['debug', 'ops'], 'ops')).toEqual(['debug']);
    expect(chosen).toEqual(['ops']);
  });
});

describe('serviceColor', () => {
  it('gives neighbouring services different colours and unknown ones a stable colour', () => {
    const services = ['api', 'db', 'web'];
    const colours = services.map((s) => serviceColor(s, services));
    expect(new Set(colours).size).toBe(3);
    expect(serviceColor('ghost', services)).toBe(serviceColor('ghost', services));
    expect(SERVICE_COLORS).toContain(serviceColor('ghost', services));
  });
});

describe('logPrefix', () => {
  const line = (service: string, replica: number | null): ComposeLogLine => ({ service, replica, timestamp: null, text: 'x' });
  it('names the replica only when there are several', () => {
    expect(logPrefix(line('web', 1))).toBe('web');
    expect(logPrefix(line('web', 2))).toBe('web-2');
    expect(logPrefix(line('', null))).toBe('');
  });
});

describe('buffers and input', () => {
  it('keeps the newest lines', () => {
    expect(appendCapped([1, 2, 3], [4, 5], 4)).toEqual([2, 3, 4, 5]);
    expect(appendCapped([], [1], 4)).toEqual([1]);
  });
  it('cleans a pasted path', () => {
    expect(cleanPath("  '/home/u/my app'  ")).toBe('/home/u/my app');
    expect(cleanPath('"/x/compose.yaml"')).toBe('/x/compose.yaml');
    expect(cleanPath('/x')).toBe('/x');
  });
  it('knows an empty down', () => {
    expect(nothingToDelete({ containers: [], networks: [], volumes: [] })).toBe(true);
    expect(nothingToDelete({ containers: [], networks: ['n'], volumes: [] })).toBe(false);
  });
});

describe('shownLogs', () => {
  const line = (service: string, text: string): ComposeLogLine => ({ service, replica: 1, timestamp: null, text });
  const lines = [line('web', 'a'), line('db', 'b'), line('', 'web-1 exited with code 0'), line('web', 'c')];

  it('hides the lines of hidden services and keeps compose\'s own', () => {
    expect(shownLogs(lines, new Set())).toBe(lines);
    expect(shownLogs(lines, new Set(['web'])).map((l) => l.text)).toEqual(['b', 'web-1 exited with code 0']);
    expect(shownLogs(lines, new Set(['web', 'db'])).map((l) => l.text)).toEqual(['web-1 exited with code 0']);
  });

  it('toggles a service without touching the set it was given', () => {
    const none = new Set<string>();
    const web = toggled(none, 'web');
    expect([...web]).toEqual(['web']);
    expect(none.size).toBe(0);
    expect([...toggled(web, 'web')]).toEqual([]);
    expect([...toggled(web, 'db')].sort()).toEqual(['db', 'web']);
  });
});

describe('commandLabel', () => {
  it('names the verb and the services a command acts on', () => {
    expect(commandLabel({ kind: 'up' })).toBe('up');
    expect(commandLabel({ kind: 'restart' }, ['web'])).toBe('restart web');
    expect(commandLabel({ kind: 'down', volumes: true })).toBe('down');
  });
});
