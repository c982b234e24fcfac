export * from './stats';
export { reportSvg } from './report-svg';
export type { ReportImages } from './report-svg';
