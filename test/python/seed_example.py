# The Python example of G2S's distributed-QS documentation (../shared/seeds/000_...), run against dqs.
# Changed from the documentation: the import line (dqs instead of g2s), and the base image, read from a file
# given on the command line (cropped to keep the test short) instead of downloaded. Everything else is as written.
import sys
import time
import numpy
from dqs import g2s

# load one base training image
base_ti = numpy.load(sys.argv[1]).astype(float)[: int(sys.argv[2]), : int(sys.argv[2])]
# build four related training images from the same base pattern
rows, cols = base_ti.shape
y = numpy.linspace(0.0, 1.0, rows)[:, None]
x = numpy.linspace(0.0, 1.0, cols)[None, :]
rng = numpy.random.default_rng(12)
ti_101 = base_ti
ti_102 = numpy.clip(base_ti + 15.0 * x, 0, 255)
ti_103 = numpy.clip(base_ti + 15.0 * y, 0, 255)
ti_104 = numpy.clip(base_ti + 8.0 * (x + y) + rng.normal(0.0, 2.0, base_ti.shape), 0, 255)


# prepare one destination image per distributed job
def make_di(source, mode):
    di = numpy.full(source.shape, numpy.nan)
    if mode == 'top':
        di[:20, :] = source[:20, :]
    elif mode == 'left':
        di[:, :20] = source[:, :20]
    elif mode == 'diag':
        mask = numpy.abs(numpy.arange(rows)[:, None] - numpy.arange(cols)[None, :]) < 6
        di[mask] = source[mask]
    elif mode == 'center':
        di[rows//2-12:rows//2+12, cols//2-12:cols//2+12] = \
            source[rows//2-12:rows//2+12, cols//2-12:cols//2+12]
    return di


job_grid = [[101, 102],
            [103, 104]]
job_data = {
    101: (ti_101, make_di(ti_101, 'top')),
    102: (ti_102, make_di(ti_102, 'left')),
    103: (ti_103, make_di(ti_103, 'diag')),
    104: (ti_104, make_di(ti_104, 'center')),
}
# register the per-job inputs
for job_id, (ti, di) in job_data.items():
    g2s('-a', 'qs_prep', '-id', job_id, '-ti', ti, '-di', di)
# launch the distributed workflow
distributed_job = g2s(
    '-a', 'qs_dm',
    '-jg', job_grid,
    '-dt', [0],
    '-k', 1.2,
    '-n', 50,
    '-j', 0.5,
    '-s', 100,
    '-submitOnly'
)
# monitor the aggregate progress
status = 0
while status < 100:
    status = g2s('-statusOnly', distributed_job)
    print(f'distributed progress: {status}')
    time.sleep(1.0)
# retrieve the chunk results one by one
chunk_results = {}
for row in job_grid:
    for job_id in row:
        chunk_results[job_id], *_ = g2s('-waitAndDownload', job_id)
# for very large runs, adapt this loop to process one chunk at a time
# instead of keeping all chunks in memory simultaneously

# (added for the test) what the test checks, saved where it can read it
out = sys.argv[3]
for job_id, sim in chunk_results.items():
    numpy.save(f'{out}/chunk_{job_id}.npy', sim)
    numpy.save(f'{out}/ti_{job_id}.npy', job_data[job_id][0])
    numpy.save(f'{out}/di_{job_id}.npy', job_data[job_id][1])
print('run', distributed_job)
