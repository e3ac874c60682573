import { describe, expect, it } from 'vitest';
import { ago, bytes, clock, duration, highlight, imageName, mib, percent, portLabel, portUrl, registryName, shortId, uniquePorts } from './format';

describe('format', () => {
  it('bytes uses decimal units like docker', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(999)).toBe('999 B');
    expect(bytes(1536)).toBe('1.54 KB');
    expect(bytes(4_400_000)).toBe('4.40 MB');
    expect(bytes(123_000_000_000)).toBe('123 GB');
    expect(bytes(null)).toBe('—');
    expect(bytes(-1)).toBe('—');
  });
  it('mib uses binary units', () => {
    expect(mib(2 * 1024 ** 3)).toBe('2.0 GiB');
    expect(mib(512 * 1024 ** 2)).toBe('512 MiB');
  });
  it('durations and ages read naturally', () => {
    expect(duration(2)).toBe('just now');
    expect(duration(30)).toBe('30 seconds');
    expect(duration(60)).toBe('1 minute');
    expect(duration(3 * 3600 + 5)).toBe('3 hours');
    expect(duration(2 * 86400)).toBe('2 days');
    expect(ago(1000, 1000 + 300)).toBe('5 minutes ago');
    expect(ago(0)).toBe('—');
  });
  it('short ids drop the algorithm', () => {
    expect(shortId('sha256:0123456789abcdef0123')).toBe('0123456789ab');
  });
  it('percent', () => {
    expect(percent(12.345)).toBe('12.3%');
    expect(percent(NaN)).toBe('—');
  });
  it('ports become localhost links only when published over tcp', () => {
    const published = { host_ip: '0.0.0.0', host_port: 8080, container_port: 80, protocol: 'tcp' };
    expect(portUrl(published)).toBe('http://localhost:8080');
    expect(portLabel(published)).toBe('localhost:8080');
    expect(portUrl({ ...published, protocol: 'udp' })).toBeNull();
    expect(portLabel({ host_ip: null, host_port: null, container_port: 53, protocol: 'udp' })).toBe('53/udp');
    expect(uniquePorts([published, { ...published, host_ip: '::' }])).toHaveLength(1);
  });
  it('image names drop the default registry', () => {
    expect(imageName('docker.io/library/nginx:1.27')).toBe('nginx:1.27');
    expect(imageName('ghcr.io/x/y:1')).toBe('ghcr.io/x/y:1');
  });

  it('registry logins name Docker Hub', () => {
    expect(registryName('https://index.docker.io/v1/')).toBe('Docker Hub');
    expect(registryName('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
  it('clock formats RFC 3339 in local time', () => {
    const ts = '2026-01-02T03:04:05.678Z';
    expect(clock(ts)).toMatch(/^\d\d:\d\d:05\.678$/);
    expect(clock(null)).toBe('');
  });
  it('highlight splits around every case-insensitive match', () => {
    expect(highlight('Hello hello', 'HELLO')).toEqual([
      { text: 'Hello', hit: true },
      { text: ' ', hit: false },
      { text: 'hello', hit: true },
    ]);
    expect(highlight('abc', '')).toEqual([{ text: 'abc', hit: false }]);
    expect(highlight('abc', 'x')).toEqual([{ text: 'abc', hit: false }]);
  });
});
