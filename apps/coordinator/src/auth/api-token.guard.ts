import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { NNQ_CONFIG, type NnqConfig } from '@nnq/cluster';
import { timingSafeEqual } from 'node:crypto';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * When NNQ_API_TOKEN is set, every mutating request (POST, PUT, PATCH, DELETE) needs
 * `Authorization: Bearer <token>`. Reads stay open so dashboards and Prometheus need no secret.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly token?: Buffer;

  constructor(@Inject(NNQ_CONFIG) config: NnqConfig) {
    this.token = config.NNQ_API_TOKEN ? Buffer.from(config.NNQ_API_TOKEN) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.token) return true;
    const req = context.switchToHttp().getRequest<{ method: string; headers: { authorization?: string } }>();
    if (SAFE_METHODS.has(req.method)) return true;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(header);
    if (!m)
      throw new UnauthorizedException(
        'this coordinator needs Authorization: Bearer <NNQ_API_TOKEN> on mutating requests',
      );
    const given = Buffer.from(m[1]);
    if (given.length !== this.token.length || !timingSafeEqual(given, this.token)) {
      throw new UnauthorizedException('the bearer token does not match NNQ_API_TOKEN');
    }
    return true;
  }
}

/** Loopback addresses: binding elsewhere without a token exposes the API to the network. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
