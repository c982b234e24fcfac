/** HTTP request bodies, validated with class-validator (unknown fields are refused). */
import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { SCOPE_NAME_PATTERN, SCOPE_NAME_RULE } from './names';

/** An optional namespace or batch name: a string that matches SCOPE_NAME_PATTERN. */
function ScopeName(what: 'namespace' | 'batch', description: string, example: string) {
  return applyDecorators(
    ApiPropertyOptional({ description, example }),
    IsOptional(),
    IsString(),
    Matches(SCOPE_NAME_PATTERN, { message: `${what}: ${SCOPE_NAME_RULE}` }),
  );
}

export class PrepDto {
  @ApiProperty({ description: 'job id (chunk id): a non-negative integer', example: 101 })
  @IsDefined()
  @ValidateIf((_o, v) => typeof v !== 'number')
  @IsString()
  @Matches(/^\d+$/, { message: 'id must be a non-negative integer' })
  id!: string | number;

  @ApiProperty({ description: 'training images: sha256 of uploaded arrays', type: [String] })
  @IsArray()
  @ArrayMinSize(1, { message: 'ti needs at least one training image' })
  @IsString({ each: true })
  @Matches(/^[0-9a-f]{64}$/, {
    each: true,
    message: 'ti entries must be sha256 of uploaded arrays (POST /v1/arrays)',
  })
  ti!: string[];

  @ApiProperty({ description: 'destination image: sha256 of an uploaded array' })
  @IsString()
  @Matches(/^[0-9a-f]{64}$/, { message: 'di must be the sha256 of an uploaded array (POST /v1/arrays)' })
  di!: string;

  @ApiProperty({
    description: 'variable types: 0 = continuous, 1 = categorical',
    example: [0],
    type: [Number],
  })
  @IsArray()
  @ArrayMinSize(1, { message: 'dt needs one type per variable' })
  @IsInt({ each: true })
  @Min(0, { each: true })
  dt!: number[];

  @ScopeName('namespace', "namespace of the job ids (one per user or project; default 'default')", 'alice')
  namespace?: string;
}

export class DmDto {
  @ApiProperty({
    description: 'job grid (-jg): nested JSON array of job ids, or a JSON file inside the data directory',
    example: [
      [101, 102],
      [103, 104],
    ],
  })
  @IsDefined({ message: 'jg (the job grid) is required' })
  jg!: unknown;

  @ApiPropertyOptional({
    description: 'endpoint grid (-eg): recorded and checked, not needed (the exchange goes through Redis)',
  })
  @IsOptional()
  eg?: unknown;

  @ApiPropertyOptional({
    description: 'DI grid (-di_grid_json): DI identifiers of the jobs; default input_di_<jobId>',
  })
  @IsOptional()
  di_grid_json?: unknown;

  @ApiProperty({ example: [0], type: [Number] })
  @IsArray()
  @ArrayMinSize(1)
  @IsInt({ each: true })
  @Min(0, { each: true })
  dt!: number[];

  @ApiProperty({ example: 1.2 })
  @IsNumber({}, { message: 'k must be a number >= 1' })
  @Min(1, { message: 'k must be a number >= 1' })
  k!: number;

  @ApiProperty({ example: [50], type: [Number] })
  @IsArray()
  @ArrayMinSize(1)
  @IsInt({ each: true, message: 'n must be integers >= 1' })
  @Min(1, { each: true, message: 'n must be integers >= 1' })
  n!: number[];

  @ApiPropertyOptional({ description: 'base seed; chunk r uses seed + r (default: random)', example: 100 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(0xffffffff)
  s?: number;

  @ApiPropertyOptional({
    description: 'threads per chunk: an integer, or a fraction of the worker cores',
    example: 0.5,
  })
  @IsOptional()
  @IsNumber()
  @Min(0)
  j?: number;

  @ApiPropertyOptional({ type: [Number] })
  @IsOptional()
  @IsArray()
  @IsInt({ each: true })
  @Min(1, { each: true })
  ks?: number[];

  @ApiPropertyOptional({ description: 'sha256 of an uploaded kernel array (-ki)' })
  @IsOptional()
  @IsString()
  @Matches(/^[0-9a-f]{64}$/)
  ki?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  cti?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  forceSimulation?: boolean;

  @ApiPropertyOptional({
    description: "capabilities a worker must have (all of them) to take this run's chunks",
    example: ['avx2'],
  })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @Matches(/^[A-Za-z0-9_.-]{1,50}$/, {
    each: true,
    message: 'requires: each capability is a word (letters, digits, _ . -)',
  })
  requires?: string[];

  @ScopeName('namespace', "namespace of the job ids (one per user or project; default 'default')", 'alice')
  namespace?: string;

  @ScopeName(
    'batch',
    "batch name: groups runs in the archive (archive/<namespace>/<batch>/<runId>; default 'default')",
    'nov-tests',
  )
  batch?: string;

  @ApiPropertyOptional({
    description:
      'URL that receives a POST with the run summary when the run completes, fails or is cancelled',
  })
  @IsOptional()
  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'], require_protocol: true },
    { message: 'webhook must be an http(s) URL' },
  )
  webhook?: string;
}
