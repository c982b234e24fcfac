import { QsInputError } from './errors';
import { QsGrid } from './types';

/**
 * A stored array as a QS grid. G2S's rule: the last axis holds the variables when there is more than one
 * variable type; otherwise every axis is spatial.
 */
export function gridFromArray(
  shape: readonly number[],
  data: Float32Array,
  vars: number,
  label: string,
): QsGrid {
  const spatial = [...shape];
  if (vars > 1) {
    if (spatial.length < 2 || spatial[spatial.length - 1] !== vars) {
      throw new QsInputError(
        `${label}: ${vars} variable types are given, so the last axis must have ${vars} entries, but the shape is ${shape.join('x')}`,
      );
    }
    spatial.pop();
  }
  if (spatial.length < 1 || spatial.length > 3) {
    throw new QsInputError(
      `${label}: ${spatial.length} spatial axes (shape ${shape.join('x')}); QS works on 1D, 2D and 3D grids`,
    );
  }
  return { shape: spatial, vars, data };
}
