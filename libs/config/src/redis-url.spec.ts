import { describe, expect, it } from 'vitest';
import { redactUrl } from './redis-url';

describe('redactUrl', () => {
  it.each([
    ['redis://nnq:s3cret@redis:6379/0', 'redis://nnq:***@redis:6379/0'],
    ['rediss://:s3cret@redis.example:6380', 'rediss://:***@redis.example:6380'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['redis://nnq@redis:6379', 'redis://nnq@redis:6379'],
    ['redis://user:s3cret@bad host', 'redis://***@bad host'],
  ])('prints %s as %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
    expect(redactUrl(url)).not.toContain('s3cret');
  });
});
