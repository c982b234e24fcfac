import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ResultsService } from './results.service';

@Controller()
export class HealthController {
  constructor(private readonly results: ResultsService) {}

  @Get('health')
  async health(): Promise<{ status: string; redis: string }> {
    try {
      return { status: 'ok', redis: await this.results.ping() };
    } catch (e) {
      throw new ServiceUnavailableException({ status: 'down', redis: (e as Error).message });
    }
  }
}
