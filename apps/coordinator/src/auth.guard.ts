/** When DQS_TOKEN is set, every call that changes something needs "Authorization: Bearer <token>". */
import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { ServiceConfig } from '@dqs/protocol';

@Injectable()
export class TokenGuard implements CanActivate {
  constructor(private readonly config: ServiceConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const token = this.config.DQS_TOKEN;
    if (!token) return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new UnauthorizedException(
        'this dqs server needs a token for changes: send "Authorization: Bearer <token>" (dqs: --token or DQS_TOKEN)',
      );
    }
    return true;
  }
}
