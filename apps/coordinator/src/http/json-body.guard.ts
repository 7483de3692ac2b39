import { Injectable, UnsupportedMediaTypeException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { notJson } from '@nnq/cluster';

/**
 * Every handler that takes a `@Body()` gets a JSON one. The content type of any body is checked
 * before routing (browserGuard, libs/cluster): only JSON is parsed. What is left is a request
 * with no body at all to a handler that needs one: 415, as for a body of another type. Read from
 * the route's own metadata, so no handler has to remember to check.
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ??
      {}) as Record<string, unknown>;
    const takesBody = Object.keys(args).some((k) => k.split(':')[0] === String(RouteParamtypes.BODY));
    const req = context.switchToHttp().getRequest<{ body?: unknown; headers: Record<string, string | undefined> }>();
    if (!takesBody || req.body !== undefined) return true;
    const type = req.headers['content-type'];
    throw new UnsupportedMediaTypeException(notJson(type ? 'an empty body' : 'no content-type'));
  }
}
