export * from './names';
export * from './job-grid';
export * from './records';
export type * from './payloads';
export { DmDto, PrepDto } from './dto';
export { redisOptionsFromUrl } from './redis-url';
export { ServiceConfig, loadServiceConfig } from './service-config';
export { JobRangeError, formatJobRanges, parseJobRanges } from './job-ranges';
export { DateBoundError, parseDateBound, parseDateFilter } from './date-bounds';
