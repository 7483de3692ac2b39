import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { RedisHealthIndicator } from './redis.health';
import { EXTRA_HEALTH } from './tokens';

/** GET /health: Redis plus whatever the app adds under EXTRA_HEALTH. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedisHealthIndicator,
    @Optional() @Inject(EXTRA_HEALTH) private readonly extra?: () => HealthIndicatorFunction[],
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.redis.isHealthy(), ...(this.extra?.() ?? [])]);
  }
}
