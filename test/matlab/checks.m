% g2s('-a','qs') against `dqs qs`, -submitOnly / -statusOnly / -kill, and errors that name what is wrong.
% Inputs: DQS_TEST_DIR holds ti.f32 (60x60) and di.f32 (30x30), float32 row-major; outputs go beside them.
function checks()
  addpath('clients/matlab');
  dir = getenv('DQS_TEST_DIR');
  ti = read_f32(fullfile(dir, 'ti.f32'), [60, 60]);
  di = read_f32(fullfile(dir, 'di.f32'), [30, 30]);

  % -a qs: the bytes of dqs qs with the same seed (the test compares them)
  [sim, index, t, progress, run] = g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-k',1.2,'-n',20,'-s',7,'-ks',21);
  assert(isequal(size(sim), [30, 30]) && isa(sim, 'single') && isa(index, 'uint32'));
  assert(t > 0 && progress == 100 && ischar(run));
  write_raw(fullfile(dir, 'octave_sim.f32'), sim, 'single');
  write_raw(fullfile(dir, 'octave_index.u32'), index, 'uint32');
  % G2S's packing: [sim, t] with two outputs
  [again, t2] = g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-k',1.2,'-n',20,'-s',7,'-ks',21);
  assert(isequal(again, sim) && isscalar(t2) && t2 > 0);

  % -submitOnly, -statusOnly as [progress, id], -waitAndDownload of a run id
  run = g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-k',1.2,'-n',20,'-s',7,'-ks',21,'-submitOnly');
  [progress, id] = g2s('-statusOnly', run);
  assert(strcmp(id, run) && progress >= 0 && progress <= 100);
  % -sa and -p (G2S's address and port) instead of DQS_URL
  where = regexp(getenv('DQS_URL'), '^http://([^:/]+):(\d+)$', 'tokens', 'once');
  [~, id] = g2s('-statusOnly', run, '-sa', where{1}, '-p', str2double(where{2}));
  assert(strcmp(id, run));
  [third, third_index, ~] = g2s('-waitAndDownload', run);  % with two outputs: [sim, t], as in G2S
  assert(isequal(third, sim), 'sim of a run id differs: %d cells', nnz(third ~= sim));
  assert(isequal(third_index, index), 'index of a run id differs: %d cells', nnz(third_index ~= index));

  % -kill stops a run: its status and its download then say it was cancelled
  big = g2s('-a','qs','-ti',ti,'-di',nan(150, 150),'-dt',0,'-k',1.2,'-n',50,'-s',1,'-submitOnly');
  g2s('-kill', big);
  expect_error(@() g2s('-statusOnly', big), 'dqs:run', ['run ' big ' cancelled']);
  expect_error(@() g2s('-waitAndDownload', big), 'dqs:server', 'was cancelled');
  printf('killed %s\n', big);

  % bad arguments: an error that names them
  expect_error(@() g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-k',0.5,'-n',20), 'dqs:server', 'k must be a number >= 1');
  expect_error(@() g2s('-a','qs_dm','-jg','[[101,102],[103]]','-dt',0,'-k',1.2,'-n',50), 'dqs:server', 'ragged');
  expect_error(@() g2s('-a','nope'), 'dqs:args', '-a ''nope'' is not offered by dqs');
  expect_error(@() g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-kk',1.2), 'dqs:args', '-kk is not a flag');
  expect_error(@() g2s('-a','qs','-ti',ti,'-di',di,'-k',1.2,'-n',20), 'dqs:args', '-dt is missing');
  expect_error(@() g2s('-a','qs','-ti',ti,'-di',di,'-dt',[0,1],'-k',1.2,'-n',20), 'dqs:args', 'last dimension of -ti 1');
  expect_error(@() g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-k','abc','-n',20), 'dqs:args', '-k takes numbers');
  expect_error(@() g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-k',1.2,'-n',20,'-k',2), 'dqs:args', '-k is given twice');
  expect_error(@() g2s(ti,'-a','qs'), 'dqs:args', 'argument 1 should be a flag');
  expect_error(@() g2s('-waitAndDownload', 1.5), 'dqs:args', '-waitAndDownload takes a job id');
  expect_error(@() g2s('-waitAndDownload', 'rnope'), 'dqs:server', 'no run rnope');
  % the token: from the token file here; a wrong one is refused with the server's message
  expect_error(@() g2s('-kill', run, '-token', 'wrong'), 'dqs:server', 'needs a token');
  setenv('DQS_TOKEN_FILE', fullfile(dir, 'no-such-token'));
  expect_error(@() g2s('-kill', run), 'dqs:token', 'no-such-token');
  unsetenv('DQS_TOKEN_FILE');
  expect_error(@() g2s('-statusOnly', run, '-sa', '127.0.0.1', '-p', 1), 'dqs:unreachable', 'cannot reach dqs at http://127.0.0.1:1');
  printf('ok\n');
end

function write_raw(file, a, type)
fid = fopen(file, 'w');
fwrite(fid, a.', type);
fclose(fid);
end

function expect_error(f, id, text)
try
  f();
catch e
  if ~strcmp(e.identifier, id) || isempty(strfind(e.message, text))
    error('expected %s with "%s", got %s: %s', id, text, e.identifier, e.message);
  end
  return;
end
error('expected an error %s with "%s", got none', id, text);
end
