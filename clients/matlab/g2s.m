function varargout = g2s(varargin)
%G2S  G2S's MATLAB interface, run against a dqs server (MATLAB and GNU Octave).
%
%   [sim, index, t] = g2s('-a','qs','-ti',ti,'-di',di,'-dt',0,'-k',1.2,'-n',50,'-s',100)
%   g2s('-a','qs_prep','-id',101,'-ti',ti_101,'-di',di_101)
%   run = g2s('-a','qs_dm','-jg',[101,102;103,104],'-dt',0,'-k',1.2,'-n',50,'-j',0.5,'-s',100,'-submitOnly')
%   [progress, run] = g2s('-statusOnly', run)
%   [chunk, index, t] = g2s('-waitAndDownload', 101)
%   g2s('-kill', run)
%
%   Arguments and return values are G2S's: outputs come as images (simulation, index), then the time in
%   seconds, the progress and the id, and with fewer outputs than that the last images give way to the time
%   ([sim, t] = g2s(...), as in G2S). Matrices keep MATLAB's orientation: row 1 is the top row of an image,
%   and a job grid [101,102;103,104] puts 102 right of 101 and 103 below it. With several variables
%   ('-dt',[0,1]) the last dimension holds them. The simulation comes back as single, the index as uint32.
%
%   Server: '-sa' (an address, '-p' its port, default 3000; or a URL), else DQS_URL, else 127.0.0.1:3000.
%   Token: '-token', else DQS_TOKEN, else the token file (DQS_TOKEN_FILE, else
%   ${XDG_CONFIG_HOME:-~/.config}/dqs/token). Job ids live in a namespace: '-ns' or '-namespace' (else
%   DQS_NAMESPACE, else 'default'); '-batch' groups qs_dm runs in the server's archive. '-TO' is a timeout
%   in milliseconds; '-silent' keeps notes quiet. Errors: error('dqs:...') with the server's message.
flags = dqs_parse_args(varargin);
server = dqs_server(flags);
nout = max(nargout, 1);
if isKey(flags, '-statusOnly')
  run_id = dqs_text(flags, '-statusOnly', '');
  status = dqs_json(server, 'GET', ['/v1/runs/' url_part(run_id)]);
  fail_if_ended(status);
  varargout = pack_outputs({}, {double(status.progress), run_id}, nout);
elseif isKey(flags, '-waitAndDownload')
  started = tic;
  [sim, index, job] = wait_and_download(server, flags);
  varargout = pack_outputs({sim, index}, {toc(started), 100, job}, nout);
elseif isKey(flags, '-kill')
  run_id = dqs_text(flags, '-kill', '');
  dqs_json(server, 'POST', ['/v1/runs/' url_part(run_id) '/kill'], struct());
  varargout = {};
else
  algorithm = dqs_text(flags, '-a', '');
  switch algorithm
    case {'qs', 'QS', 'QuickSampling'}
      varargout = run_qs(server, flags, nout);
    case 'qs_prep'
      prep(server, flags, dqs_text(flags, '-id', ''), namespace_of(flags), true);
      varargout = {};
    case 'qs_dm'
      varargout = run_dm(server, flags, nout);
    case ''
      error('dqs:args', 'g2s: -a is missing: give ''-a'', ''qs'', ''qs_prep'' or ''qs_dm''');
    otherwise
      error('dqs:args', 'g2s: -a ''%s'' is not offered by dqs; use ''qs'', ''qs_prep'' or ''qs_dm''', algorithm);
  end
end
if nargout == 0 && ~isempty(varargout)
  varargout = varargout(1); % ans
end
end

function out = pack_outputs(images, rest, nout)
% G2S's MATLAB packing: images first (leaving the last place to the time when there are fewer outputs
% than images + 1), then time, progress, id
images = images(1:min(numel(images), max(nout - 1, 1)));
out = [images, rest];
if nout > numel(out)
  error('dqs:args', 'g2s: this call returns at most %d outputs (asked for %d)', numel(out), nout);
end
out = out(1:nout);
end

function ns = namespace_of(flags)
ns = dqs_text(flags, '-namespace', dqs_text(flags, '-ns', getenv('DQS_NAMESPACE')));
if isempty(ns)
  ns = 'default';
end
end

function dt = types_of(flags, prep_default)
dt = dqs_numbers(flags, '-dt', '''-dt'', 0 (0 = continuous, 1 = categorical; one per variable)');
if isempty(dt) && prep_default
  % G2S refuses qs_prep without -dt; its documentation's example omits it: one continuous variable
  if ~isKey(flags, '-silent')
    fprintf(2, 'dqs: qs_prep without -dt: taking 0 (one continuous variable); pass ''-dt'' to be explicit\n');
  end
  dt = 0;
end
if isempty(dt)
  error('dqs:args', 'g2s: -dt is missing: give one type per variable, e.g. ''-dt'', 0 (0 = continuous, 1 = categorical)');
end
end

function prep(server, flags, job_id, namespace, is_qs_prep)
if isempty(job_id)
  error('dqs:args', 'g2s: qs_prep needs ''-id'', the job id (e.g. ''-id'', 101)');
end
dt = types_of(flags, is_qs_prep);
if ~isKey(flags, '-ti') || isempty(flags('-ti'))
  error('dqs:args', 'g2s: %s needs ''-ti'', one or more training images', dqs_text(flags, '-a', ''));
end
di = dqs_one(flags, '-di', []);
if isempty(di)
  error('dqs:args', 'g2s: %s needs ''-di'', the destination image (NaN = to simulate)', dqs_text(flags, '-a', ''));
end
tis = flags('-ti');
shas = cell(1, numel(tis));
for i = 1:numel(tis)
  shas{i} = dqs_upload(server, tis{i}, sprintf('-ti %d', i), numel(dt));
end
body = struct('id', job_id, 'ti', {shas}, 'di', dqs_upload(server, di, '-di', numel(dt)), ...
  'dt', {num2cell(dt)}, 'namespace', namespace);
dqs_json(server, 'POST', '/v1/prep', body);
end

function body = qs_body(flags, namespace)
body = struct();
body.dt = num2cell(types_of(flags, false));
body.k = dqs_number(flags, '-k', [], '''-k'', 1.2');
if isempty(body.k)
  error('dqs:args', 'g2s: -k is missing (e.g. ''-k'', 1.2)');
end
n = dqs_numbers(flags, '-n', '''-n'', 50');
if isempty(n)
  error('dqs:args', 'g2s: -n is missing (e.g. ''-n'', 50)');
end
body.n = num2cell(n);
s = dqs_number(flags, '-s', [], '''-s'', 100');
if ~isempty(s)
  body.s = s;
end
j = dqs_number(flags, '-j', [], '''-j'', 0.5');
if ~isempty(j)
  body.j = j;
end
ks = dqs_numbers(flags, '-ks', '''-ks'', 21');
if ~isempty(ks)
  body.ks = num2cell(ks);
end
body.namespace = namespace;
end

function out = run_dm(server, flags, nout)
jg = [];
for key = {'-jg', '-job_grid_json', '-job_grid'}
  jg = dqs_one(flags, key{1}, jg);
end
if isempty(jg)
  error('dqs:args', 'g2s: qs_dm needs ''-jg'', the job grid, e.g. [101,102;103,104]');
end
body = qs_body(flags, namespace_of(flags));
body.jg = json_grid(jg, '-jg');
eg = dqs_one(flags, '-eg', dqs_one(flags, '-endpoint_grid_json', []));
if ~isempty(eg)
  body.eg = json_grid(eg, '-eg');
end
dig = dqs_one(flags, '-di_grid_json', []);
if ~isempty(dig)
  body.di_grid_json = json_grid(dig, '-di_grid_json');
end
batch = dqs_text(flags, '-batch', '');
if ~isempty(batch)
  body.batch = batch;
end
started = tic;
run_id = submit_run(server, flags, body);
if isKey(flags, '-submitOnly')
  out = {run_id};
else
  out = pack_outputs({}, {toc(started), 100, run_id}, nout);
end
end

function out = run_qs(server, flags, nout)
% local QS as a one-job distributed run, which gives the bytes of dqs qs
namespace = namespace_of(flags);
job_id = random_job_id();
prep(server, flags, job_id, namespace, false);
body = qs_body(flags, namespace);
body.jg = {{str2double(job_id)}};
started = tic;
run_id = submit_run(server, flags, body);
if isKey(flags, '-submitOnly')
  out = {run_id};
  return;
end
[sim, index] = download_chunk(server, job_id, ['/v1/runs/' run_id '/chunks/' job_id], '', server.timeout);
out = pack_outputs({sim, index}, {toc(started), 100, run_id}, nout);
end

function run_id = submit_run(server, flags, body)
% launches a run and, unless -submitOnly, waits until it has completed
run = dqs_json(server, 'POST', '/v1/runs', body);
run_id = run.runId;
if ~isKey(flags, '-submitOnly')
  wait_run(server, run_id);
end
end

function [sim, index, job] = wait_and_download(server, flags)
id = dqs_one(flags, '-waitAndDownload', []);
if isa(id, 'string')
  id = char(id);
end
if ischar(id) && isempty(regexp(id, '^\d+$', 'once'))
  % a run id (from '-a','qs',...,'-submitOnly'): its one chunk
  status = dqs_json(server, 'GET', ['/v1/runs/' url_part(id)]);
  if numel(status.chunks) ~= 1
    error('dqs:args', 'g2s: run %s has %d jobs; give a job id to -waitAndDownload (e.g. %s)', id, ...
      numel(status.chunks), chunk_job(status.chunks, 1));
  end
  job = chunk_job(status.chunks, 1);
  [sim, index] = download_chunk(server, job, ['/v1/runs/' url_part(id) '/chunks/' job], '', server.timeout);
  return;
end
job = dqs_text(flags, '-waitAndDownload', '');
if isempty(regexp(job, '^\d+$', 'once'))
  error('dqs:args', 'g2s: -waitAndDownload takes a job id (a non-negative integer) or a run id (got %s)', job);
end
scope = ['&namespace=' url_part(namespace_of(flags))];
[sim, index] = download_chunk(server, job, ['/v1/chunks/' job], scope, server.timeout);
end

function job = chunk_job(chunks, i)
if iscell(chunks)
  job = chunks{i}.jobId;
else
  job = chunks(i).jobId;
end
end

function [sim, index] = download_chunk(server, job, path, scope, timeout)
sim = dqs_npy_decode(wait_for_bytes(server, [path '?wait=true' scope], timeout, job), ['chunk ' job]);
index = dqs_npy_decode(wait_for_bytes(server, [path '?wait=true&part=index' scope], timeout, job), ...
  ['the index of chunk ' job]);
end

function bytes = wait_for_bytes(server, path, timeout, job)
% the server waits at most 20 s per request (no HTTP client times out), and we ask again until TIMEOUT
started = tic;
while true
  wait = min(20, max(1, ceil(timeout - toc(started))));
  [status, bytes] = dqs_http(server, 'GET', sprintf('%s&timeout=%d', path, wait), '', [], wait + 30);
  if status ~= 408
    break;
  end
  if toc(started) >= timeout
    error('dqs:timeout', 'g2s: chunk %s is not written after %g s (-TO)', job, timeout);
  end
end
dqs_check(status, bytes);
end

function status = wait_run(server, run_id)
started = tic;
while true
  status = dqs_json(server, 'GET', ['/v1/runs/' url_part(run_id)]);
  if strcmp(status.state, 'completed')
    return;
  end
  fail_if_ended(status);
  if toc(started) > server.timeout
    error('dqs:timeout', 'g2s: run %s is not finished after %g s (-TO); it goes on: g2s(''-statusOnly'', ''%s'')', ...
      run_id, server.timeout, run_id);
  end
  pause(0.25);
end
end

function fail_if_ended(status)
if any(strcmp(status.state, {'failed', 'cancelled'}))
  message = '';
  if isfield(status, 'error') && ischar(status.error)
    message = [': ' status.error];
  end
  error('dqs:run', 'run %s %s%s', status.runId, status.state, message);
end
end

function c = json_grid(g, key)
% a numeric or cell matrix as nested rows (row-major, C order for N-D), as jsonencode writes them; text is
% passed as is (inline JSON, or a JSON file on the server)
if ischar(g) || isa(g, 'string')
  c = char(g);
  return;
end
if ~(isnumeric(g) || iscell(g))
  error('dqs:args', 'g2s: %s takes a matrix, a cell array or JSON text (got a %s)', key, class(g));
end
if isnumeric(g)
  g = num2cell(double(g));
end
c = nest(g, size(g));
end

function c = nest(g, shape)
if numel(shape) == 1
  c = reshape(g, 1, []);
  return;
end
c = cell(1, shape(1));
rest = reshape(g, shape(1), []);
for i = 1:shape(1)
  c{i} = nest(reshape(rest(i, :), [shape(2:end), 1]), shape(2:end));
end
end

function id = random_job_id()
% a random 31-bit job id that leaves the user's random generator alone
bits = [];
if exist('OCTAVE_VERSION', 'builtin')
  fid = fopen('/dev/urandom', 'r');
  if fid >= 0
    bits = double(fread(fid, 4, 'uint8'));
    fclose(fid);
  end
elseif usejava('jvm')
  bits = double(typecast(java.util.UUID.randomUUID().getLeastSignificantBits(), 'uint8'));
end
if numel(bits) < 4
  id = sprintf('%d', mod(floor(now * 864e8) + 7919 * feature_pid(), 2^31));
  return;
end
id = sprintf('%d', mod(bits(1:4)' * [1; 256; 65536; 16777216], 2^31));
end

function p = feature_pid()
if exist('OCTAVE_VERSION', 'builtin')
  p = getpid();
else
  p = feature('getpid');
end
end

function s = url_part(text)
% a path or query part: only the characters ids and names use, the rest percent-encoded
s = '';
for ch = char(text)
  if any(ch == ['A':'Z', 'a':'z', '0':'9', '-_.~'])
    s = [s, ch]; %#ok<AGROW>
  else
    s = [s, sprintf('%%%02X', double(ch))]; %#ok<AGROW>
  end
end
end
