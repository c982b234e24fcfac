# g2s('-a', 'qs'), the (progress, id) form of -statusOnly, -kill and errors, against dqs.
import sys
import numpy
from dqs import g2s, DqsError

ti = numpy.load(sys.argv[1]).astype(numpy.float32)[:80, :80]
di = numpy.full((30, 30), numpy.nan)
di[3, 4] = 0.25
sim, index, t, *_ = g2s('-a', 'qs', '-ti', ti, '-di', di, '-dt', [0], '-k', 1.2, '-n', 20, '-s', 7, '-ks', 21)
assert sim.shape == (30, 30) and sim.dtype == numpy.float32, (sim.shape, sim.dtype)
assert index.dtype == numpy.uint32
assert sim[3, 4] == numpy.float32(0.25), sim[3, 4]
mask = numpy.ones((30, 30), bool)
mask[3, 4] = False
assert numpy.array_equal(sim[mask], ti.flat[index[mask]]), 'values come from the TI at their index'
assert t > 0
again, *_ = g2s('-a', 'qs', '-ti', ti, '-di', di, '-dt', [0], '-k', 1.2, '-n', 20, '-s', 7, '-ks', 21)
assert numpy.array_equal(sim, again), 'same seed, same bytes'

run = g2s('-a', 'qs', '-ti', ti, '-di', numpy.full((60, 60), numpy.nan), '-dt', [0], '-k', 1.2, '-n', 40, '-s', 1, '-submitOnly')
progress, run_id = g2s('-statusOnly', run)
assert run_id == run and 0 <= progress <= 100
g2s('-kill', run)
try:
    g2s('-statusOnly', run)
    raise AssertionError('a killed run should not report progress')
except DqsError as e:
    assert 'cancelled' in str(e), e

# namespaces: job 5 of two users, each with its own training image; -waitAndDownload in each namespace
for ns, offset in (('py-a', 0.0), ('py-b', 1000.0)):
    g2s('-a', 'qs_prep', '-id', 5, '-ti', ti + offset, '-di', numpy.full((30, 30), numpy.nan), '-dt', [0], '-ns', ns)
    g2s('-a', 'qs_dm', '-jg', [[5]], '-dt', [0], '-k', 1.2, '-n', 20, '-s', 3, '-ks', 21, '-ns', ns, '-batch', 'py')
a5, *_ = g2s('-waitAndDownload', 5, '-ns', 'py-a')
b5, *_ = g2s('-waitAndDownload', 5, '-namespace', 'py-b')
assert a5.max() < 600 < b5.min(), (a5.max(), b5.min())

for bad, expected in [
    (('-a', 'qs', '-ti', ti, '-di', di, '-dt', [0], '-k', 0.5, '-n', 20), 'k must be a number >= 1'),
    (('-a', 'qs_dm', '-jg', [[101, 102], [103]], '-dt', [0], '-k', 1.2, '-n', 50), 'ragged grid'),
    (('-a', 'nope',), "not offered by dqs"),
]:
    try:
        g2s(*bad)
        raise AssertionError(f'accepted: {bad[:2]}')
    except DqsError as e:
        assert expected in str(e), (expected, str(e))
print('ok')
