import 'reflect-metadata';
import { Body, Param, type ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { JsonBodyGuard } from './json-body.guard';

class Handlers {
  submit(@Body() body: unknown): unknown {
    return body;
  }
  cancel(@Param('id') id: string): string {
    return id;
  }
}

const context = (handler: keyof Handlers, body: unknown, headers: Record<string, string> = {}) =>
  ({
    getType: () => 'http',
    getClass: () => Handlers,
    getHandler: () => Handlers.prototype[handler],
    switchToHttp: () => ({ getRequest: () => ({ body, headers }) }),
  }) as unknown as ExecutionContext;

describe('JsonBodyGuard', () => {
  const guard = new JsonBodyGuard();

  it('refuses a handler that reads @Body() a request without one, with 415', () => {
    expect(() => guard.canActivate(context('submit', undefined))).toThrow(
      /^the request body must be JSON \(content-type: application\/json\), got no content-type$/,
    );
    expect(() => guard.canActivate(context('submit', undefined, { 'content-type': 'application/json' }))).toThrow(
      /got an empty body$/,
    );
  });

  it('passes a parsed body, and a bodiless request to a handler that takes none', () => {
    expect(guard.canActivate(context('submit', { name: 'x' }))).toBe(true);
    expect(guard.canActivate(context('cancel', undefined))).toBe(true);
  });
});
