% Runs the documentation's MATLAB example (seed_example.m, beside this file) in GNU Octave, then saves
% what the test checks in DQS_TEST_DIR (float32, row-major, one file per array).
% Octave 7 runs a script's local function only once the script has reached its definition, and the
% example calls local_make_di before its definition (MATLAB allows that): the definition, taken from the
% example's own text, is made first; then the example runs unchanged, in this workspace.
here = fileparts(mfilename('fullpath'));
example = fullfile(here, 'seed_example.m');
text = fileread(example);
eval(text(regexp(text, '^function ', 'lineanchors', 'once'):end));
source(example);
out = getenv('DQS_TEST_DIR');
tis = {ti_101, ti_102, ti_103, ti_104};
dis = {di_101, di_102, di_103, di_104};
for k = 1:numel(job_grid)
  [iy, ix] = ind2sub(size(job_grid), k);
  id = job_grid(iy, ix);
  arrays = {chunk_results{iy, ix}, tis{id - 100}, dis{id - 100}};
  names = {'chunk', 'ti', 'di'};
  for a = 1:3
    fid = fopen(fullfile(out, sprintf('%s_%d.f32', names{a}, id)), 'w');
    fwrite(fid, single(arrays{a}.'), 'single');
    fclose(fid);
  end
  printf('chunk %d at (%d,%d): %s %s\n', id, iy, ix, class(chunk_results{iy, ix}), mat2str(size(chunk_results{iy, ix})));
end
printf('run %s\n', distributed_job);
