# The inputs of same_inputs.m (beside this file) through the Python client: a 2x2 job grid whose jobs
# 201..204 have the training image ti.f32 plus 10*k and the destination image di.f32 (argv[1]).
# Prints the run id; writes the chunks it downloads as python_chunk_<id>.npy.
import sys
import numpy
from dqs import g2s

folder = sys.argv[1]
ti = numpy.fromfile(f'{folder}/ti.f32', '<f4').reshape(60, 60).astype(float)
di = numpy.fromfile(f'{folder}/di.f32', '<f4').reshape(30, 30).astype(float)
job_grid = [[201, 202], [203, 204]]
for k in range(4):
    g2s('-a', 'qs_prep', '-id', 201 + k, '-ti', ti + 10 * k, '-di', di, '-dt', [0], '-ns', 'py-same')
run = g2s('-a', 'qs_dm', '-jg', job_grid, '-dt', [0], '-k', 1.2, '-n', 20, '-s', 5, '-ks', 21, '-ns', 'py-same', '-submitOnly')
for row in job_grid:
    for job in row:
        chunk, *_ = g2s('-waitAndDownload', job, '-ns', 'py-same')
        numpy.save(f'{folder}/python_chunk_{job}.npy', chunk)
print('run', run)
